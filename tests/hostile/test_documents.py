"""Control characters a platform sends in free text (names, address lines) are kept
out of every Khaos document the hub serves, in JSON and XML; and the receive path's
own edges (a NUL in the URL, in the topic, a value too long to store) end cleanly."""

import json
import re

import pytest

from connectors import tasks
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, Posting
from tests.conftest import fixture_json
from tests.hostile import generate
from tests.hostile.conftest import basic

pytestmark = pytest.mark.django_db

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a parser lets through in free text (tabs, line breaks, C1 controls such as
# NEL); what it refuses outright (NUL, the other C0 controls) is test_parsers.py's.
DIRTY = {
    ("address", "address1"): "Flat 2\n10 Gower\tStreet\r\n",
    ("address", "address2"): "Upper\x85Floor",
    ("address", "city"): "Lon\ndon",
    ("customer_detail", "first_name"): "Eleanor\tMay",
    ("customer_detail", "last_name"): "Whit\nfield\x9b",
}


def _deliver(post_webhook, connection, doc) -> InboxDelivery:
    response = post_webhook(connection, generate.dumps(doc))
    assert response.status_code == 202
    tasks.process_delivery(response.json()["delivery"])
    return InboxDelivery.objects.get(pk=response.json()["delivery"])


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_control_characters_never_reach_a_khaos_document(client, workspace, post_webhook):
    loop = workspace.connections["loop"]
    for name in ("01_return_created_5001.json", "03_return_closed_5001_both_graded_refunded.json"):
        doc = fixture_json(f"loop/{name}")
        for path, text in DIRTY.items():
            doc = generate.replaced(doc, path, text)
        assert _deliver(post_webhook, loop, doc).status == InboxStatus.PROCESSED

    document = Posting.objects.get(associated_ref="LOOP-5001").payload
    assert document["InvoiceAddress"]["Line1"] == "Flat 2 10 Gower Street"
    assert document["InvoiceAddress"]["Town"] == "Lon don"
    assert not [s for s in _strings(document) if CONTROL.search(s)]
    for fmt in ("json", "xml"):
        served = client.get(f"/khaos/hf/returns?format={fmt}", **basic()).content
        assert b"LOOP-5001" in served
        text = json.dumps(json.loads(served)) if fmt == "json" else served.decode()
        assert not CONTROL.search(text.replace("\n", "")), fmt


def test_a_nul_in_the_webhook_url_is_404(client, hub):
    assert client.post("/webhooks/loop/hf-lo%00op/", b"{}", "application/json").status_code == 404
    assert client.post("/webhooks/lo%00op/hf-loop/", b"{}", "application/json").status_code == 404


def test_a_nul_in_the_topic_is_stored_and_ignored_with_why(hub, post_webhook):
    doc = generate.replaced(fixture_json("loop/01_return_created_5001.json"), ("trigger",), "r\x00")
    delivery = _deliver(post_webhook, hub.connections["loop"], doc)
    assert delivery.status == InboxStatus.IGNORED
    assert "not used" in delivery.error


def test_a_value_too_long_to_store_is_invalid_with_why_not_retried(hub, post_webhook):
    # Reveni's parser passes a long SKU on; the database refuses it. (Loop's leaves a
    # line it cannot use ungraded with a note, so it is not the example here.)
    doc = fixture_json("reveni/01_return_created_1021.json")
    doc["data"]["return"]["items"][0]["sku"] = "S" * 5000
    delivery = _deliver(post_webhook, hub.connections["reveni"], doc)
    assert delivery.status == InboxStatus.INVALID
    assert "too long" in delivery.error


def test_a_stored_body_that_is_not_json_is_invalid_not_failed(hub):
    delivery = InboxDelivery.objects.create(
        connection=hub.connections["swap"],
        source="poll",
        topic="return.created",
        dedup_key="k",
        body=b"[" * 100_000,
        status=InboxStatus.RECEIVED,
    )
    assert tasks.process_delivery(delivery.pk) == InboxStatus.INVALID
    delivery.refresh_from_db()
    assert "RecursionError" in delivery.error
