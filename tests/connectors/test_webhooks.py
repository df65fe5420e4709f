"""The walking skeleton: a signed webhook in, a return out; and every refusal."""

import pytest

from returns_hub.choices import ExceptionKind, InboxStatus, Team
from returns_hub.models import ExceptionCase, InboxDelivery, Return, TimelineEntry
from tests.conftest import fixture_bytes, fixture_json
from tests.factories import PlatformConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)

CREATED = "loop/01_return_created_5001.json"


def test_signed_loop_return_created_is_stored_then_becomes_a_return(
    loop_connection, post_webhook, api_client_for
):
    body = fixture_bytes(CREATED)

    response = post_webhook(loop_connection, body)

    assert response.status_code == 202
    delivery = InboxDelivery.objects.get()
    assert bytes(delivery.body) == body  # the raw body, byte for byte
    assert delivery.topic == "return.created"
    assert delivery.status == InboxStatus.PROCESSED
    assert "X-Loop-Signature" in delivery.headers
    ret = Return.objects.get(connection=loop_connection, external_id="5001")
    assert ret.associated_ref == "LOOP-5001"
    assert ret.order_ref == "1001"
    assert ret.customer_email == "eleanor.whitfield@example.com"
    assert ret.currency == "GBP"
    units = list(ret.units.order_by("external_id"))
    assert [u.external_id for u in units] == ["9100101", "9100102"]
    assert {u.platform_sku for u in units} == {"HF-TEE-ORG-WHT-M"}
    assert [str(u.expected_credit) for u in units] == ["29.99", "29.99"]
    opened = ret.timeline.get(kind="platform_return_opened")
    assert (opened.cause, opened.delivery) == ("platform", delivery)

    listed = api_client_for("cx").get("/api/v1/returns/", {"external_id": "5001"}).json()
    assert [r["associated_ref"] for r in listed["results"]] == ["LOOP-5001"]


def test_duplicate_delivery_is_200_and_changes_nothing(loop_connection, post_webhook):
    body = fixture_bytes(CREATED)
    assert post_webhook(loop_connection, body).status_code == 202
    before = (
        InboxDelivery.objects.count(),
        TimelineEntry.objects.count(),
        list(InboxDelivery.objects.values()),
    )

    again = post_webhook(loop_connection, body)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    after = (
        InboxDelivery.objects.count(),
        TimelineEntry.objects.count(),
        list(InboxDelivery.objects.values()),
    )
    assert after == before


def test_bad_signature_is_401_and_nothing_is_stored(loop_connection, post_webhook):
    response = post_webhook(loop_connection, fixture_bytes(CREATED), secret="not-the-secret")

    assert response.status_code == 401
    assert "X-Loop-Signature" in response.json()["error"]
    assert not InboxDelivery.objects.exists()
    assert not Return.objects.exists()


def test_missing_signature_is_401(client, loop_connection):
    response = client.post(
        f"/webhooks/loop/{loop_connection.slug}/",
        data=fixture_bytes(CREATED),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert not InboxDelivery.objects.exists()


def test_signature_over_a_changed_body_is_refused(loop_connection, client):
    from connectors import registry

    body = fixture_bytes(CREATED)
    signature = registry.get("loop").signature_for({})
    good = signature.compute(loop_connection.webhook_secret, body)
    response = client.post(
        f"/webhooks/loop/{loop_connection.slug}/",
        data=body.replace(b"59.98", b"99.98"),
        content_type="application/json",
        HTTP_X_LOOP_SIGNATURE=good,
    )
    assert response.status_code == 401


def test_unreadable_body_is_400_with_a_clear_error(loop_connection, post_webhook):
    response = post_webhook(loop_connection, b'{"topic": "return", ')

    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not valid JSON")
    assert not InboxDelivery.objects.exists()


def test_body_over_one_mebibyte_is_413(loop_connection, post_webhook):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

    response = post_webhook(loop_connection, body)

    assert response.status_code == 413
    assert not InboxDelivery.objects.exists()


def test_unknown_connection_and_other_platforms_slug_are_404(client, loop_connection):
    body = fixture_bytes(CREATED)
    assert client.post("/webhooks/loop/nope/", body, "application/json").status_code == 404
    url = f"/webhooks/happy-returns/{loop_connection.slug}/"
    assert client.post(url, body, "application/json").status_code == 404


def test_disabled_connection_is_404(post_webhook, db):
    connection = PlatformConnectionFactory(platform="loop", slug="off", enabled=False)
    assert post_webhook(connection, fixture_bytes(CREATED)).status_code == 404


def test_get_is_not_allowed(client, loop_connection):
    assert client.get(f"/webhooks/loop/{loop_connection.slug}/").status_code == 405


def test_unknown_topic_is_stored_and_ignored(loop_connection, post_webhook):
    body = b'{"topic": "restock", "trigger": "restock.requested", "id": "5001"}'

    assert post_webhook(loop_connection, body).status_code == 202

    delivery = InboxDelivery.objects.get()
    assert delivery.status == InboxStatus.IGNORED
    assert not ExceptionCase.objects.exists()


def test_payload_that_makes_no_sense_is_invalid_payload_and_keeps_the_body(
    loop_connection, post_webhook
):
    # Without a return id nothing can be kept of it (a bad line alone only leaves a note).
    body = (
        b'{"topic": "return", "trigger": "return.created", "id": {"no": "id"}, "currency": "GBP",'
        b' "line_items": [{"line_item_id": 1, "sku": "X", "price": 12.5}]}'
    )

    assert post_webhook(loop_connection, body).status_code == 202

    delivery = InboxDelivery.objects.get()
    assert delivery.status == InboxStatus.INVALID
    assert bytes(delivery.body) == body
    assert "return.id must be text, got dict" in delivery.error
    case = ExceptionCase.objects.get()
    assert case.kind == ExceptionKind.INVALID_PAYLOAD
    assert case.owner == Team.DATA
    assert case.delivery == delivery
    assert not Return.objects.exists()


def test_an_aggregated_happy_returns_delivery_is_processed(post_webhook, db):
    connection = PlatformConnectionFactory(platform="happy-returns", slug="hf-hr")
    body = fixture_bytes("happy_returns/01_return_asn_1011_started.json")

    assert post_webhook(connection, body).status_code == 202

    delivery = InboxDelivery.objects.get()
    assert delivery.status == InboxStatus.PROCESSED
    assert Return.objects.get().associated_ref == "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5"


def test_unverified_signature_scheme_is_configurable_per_connection(post_webhook, db):
    connection = PlatformConnectionFactory(
        platform="reveni",
        slug="hf-reveni",
        options={"signature_header": "X-Signature", "signature_encoding": "base64"},
    )
    body = fixture_bytes("reveni/01_return_created_1021.json")

    assert post_webhook(connection, body).status_code == 202
    # Reveni's envelope carries an event id: that is the de-duplication key.
    assert (
        InboxDelivery.objects.get().dedup_key
        == fixture_json("reveni/01_return_created_1021.json")["event_id"]
    )


def test_connection_without_a_secret_accepts_nothing(post_webhook, db):
    connection = PlatformConnectionFactory(platform="loop", slug="nosecret", webhook_secret="")
    assert post_webhook(connection, fixture_bytes(CREATED), secret="anything").status_code == 401
