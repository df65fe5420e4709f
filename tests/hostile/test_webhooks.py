"""Hostile webhook bodies, signed correctly so they reach parsing, for all five platforms.

Each is answered 400 with a clear message (nothing stored) or 202; a stored
delivery, once processed, is processed, ignored or invalid with its reason,
never failed or left received, and an invalid one changes nothing.
"""

import pytest

from connectors import tasks
from returns_hub.choices import ExceptionKind, InboxStatus
from returns_hub.models import ExceptionCase, InboxDelivery, Return, TimelineEntry
from tests.conftest import fixture_bytes, fixture_json
from tests.hostile import generate

pytestmark = pytest.mark.django_db

# One rich fixture per platform: the valid shape every hostile body is made from.
FIXTURES = {
    "loop": "loop/03_return_closed_5001_both_graded_refunded.json",
    "happy-returns": "happy_returns/03_return_asn_1011_refunded_before_inspection.json",
    "reveni": "reveni/02_refund_instant_paid_1021.json",
    "swap": "swap/05_return_processed_40014_shop_later_credit.json",
    "rebound": "rebound/03_final_disposition_884512_restocked.json",
}
DONE = {InboxStatus.PROCESSED, InboxStatus.IGNORED, InboxStatus.INVALID}
# Structural bodies that are still a JSON object (so stored, then judged by the parser).
READABLE = {"utf16", "nan_literal"}

# Every field of each fixture, end to end, each with one hostile value; the kinds
# take turns down the fields, so each kind meets a few dozen fields of every shape
# (test_parsers.py gives every field every kind, at the parser).
FIELD_CASES = [
    pytest.param(platform, path, kind, id=f"{platform}:{generate.name(path)}:{kind}")
    for platform, relative in FIXTURES.items()
    for n, path in enumerate(generate.paths(fixture_json(relative)))
    for kind in [generate.KINDS[(n + len(platform)) % len(generate.KINDS)]]
]
STRUCTURAL_CASES = [
    pytest.param(platform, kind, id=f"{platform}:{kind}")
    for platform, relative in FIXTURES.items()
    for kind in generate.structural(fixture_bytes(relative))
]


def _post_and_process(post_webhook, connection, body: bytes):
    """POST a signed body; for a stored delivery, process it and check where it ended."""
    returns_before = Return.objects.count()
    response = post_webhook(connection, body)
    assert response.status_code in (202, 400), response.content[:300]
    if response.status_code == 400:
        assert response.json()["error"]  # a message for the sender
        return response, None
    delivery_id = response.json()["delivery"]
    status = tasks.process_delivery(delivery_id)
    delivery = InboxDelivery.objects.get(pk=delivery_id)
    assert bytes(delivery.body) == body  # the raw body is kept whole
    assert status == delivery.status
    assert delivery.status in DONE, f"{delivery.status}: {delivery.error}"
    if delivery.status != InboxStatus.PROCESSED:
        assert delivery.error, "an ignored or invalid delivery says why"
    if delivery.status == InboxStatus.INVALID:
        case = ExceptionCase.objects.get(delivery=delivery)
        assert case.kind == ExceptionKind.INVALID_PAYLOAD
        assert delivery.error in case.message
        # Nothing of an invalid delivery is applied.
        assert Return.objects.count() == returns_before
        assert not TimelineEntry.objects.filter(delivery=delivery).exists()
    return response, delivery


@pytest.mark.parametrize(("platform", "path", "kind"), FIELD_CASES)
def test_a_hostile_value_in_each_field(hub, post_webhook, platform, path, kind):
    """NUL, control characters and lone surrogates in a field, or an object, a list,
    a boolean, a null, a float, a 40-digit number or 5,000 characters where its value
    belongs: the delivery is stored whole and ends processed, ignored or invalid."""
    doc = generate.variant(fixture_json(FIXTURES[platform]), path, kind)
    body = generate.dumps(doc)
    response, delivery = _post_and_process(post_webhook, hub.connections[platform], body)
    assert response.status_code == 202  # valid JSON, so stored, whatever it says
    assert delivery.status in DONE


@pytest.mark.parametrize(("platform", "kind"), STRUCTURAL_CASES)
def test_bodies_that_are_not_the_platforms_shape(hub, post_webhook, platform, kind):
    """Empty, truncated, wrongly encoded, nested 100,000 deep, numbers of 5,000
    digits, arrays instead of objects: a clear 400 with nothing stored, or stored
    and ended with its reason."""
    connection = hub.connections[platform]
    body = generate.structural(fixture_bytes(FIXTURES[platform]))[kind]
    response, _ = _post_and_process(post_webhook, connection, body)
    if response.status_code == 400:
        assert not InboxDelivery.objects.exists()
    if kind not in READABLE:
        assert response.status_code == 400, kind
    message = response.json().get("error", "")
    if kind.startswith("deep"):
        assert "nest" in message
    if kind.startswith("huge_number"):
        assert "digits" in message
    if kind == "empty":
        assert "empty" in message
