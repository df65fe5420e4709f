"""Loop as it really is: every public Loop body in tests/fixtures/realworld/loop/
(copied unchanged from the shared material; see its SOURCES.md) through the
parser or the webhook endpoint, and the shapes real bodies take (JSON numbers,
top-level labels, zero manual refunds, ``default`` outcomes, flat and nested
grades), the poll's states and the simulator's list filter."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import jsonschema
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import polling, registry, tasks
from connectors.base import demo
from connectors.base.client import PermanentFailure
from connectors.base.connector import ParseContext
from connectors.base.errors import ParseError
from connectors.base.simulator import PlatformSimulator
from connectors.loop.client import STATES, LoopClient
from connectors.loop.parser import parse_return
from connectors.loop.simulator import LoopDialect
from returns_hub import events as ev
from returns_hub.choices import InboxStatus
from returns_hub.models import ExceptionCase, InboxDelivery, Return
from tests.conftest import FIXTURES

REAL = FIXTURES / "realworld" / "loop"
CREATED = "aurate_2020_webhook_return_created.json"
CLOSED = "aurate_2020_webhook_return_updated_closed.json"
DOCS = "loop_docs_return_webhook_example_partial.json"
SCHEMA = "meltano_tap_loopreturns_returns_schema_2023.json"
SHIPMENT = "loop_docs_happy_returns_shipment_webhook.json"
LONDON = ParseContext(time_zone=ZoneInfo("Europe/London"))


def real_bytes(name: str) -> bytes:
    return (REAL / name).read_bytes()


def real(name: str):
    """A body as the hub reads it: JSON numbers as Decimals, never binary floats."""
    return json.loads(real_bytes(name), parse_float=Decimal)


def of(kind, events):
    return [e for e in events if isinstance(e, kind)]


def test_every_real_loop_file_is_covered_here():
    assert sorted(p.name for p in REAL.iterdir()) == sorted(
        [CREATED, CLOSED, DOCS, SCHEMA, SHIPMENT]
    )


# --- Aurate, 2020: real production bodies ------------------------------------------------


def test_aurate_return_created_is_a_return_with_its_unit_and_its_pending_label():
    events = parse_return(real(CREATED), LONDON)
    assert [type(e).__name__ for e in events] == ["ReturnOpened", "LabelUpdated"]
    opened, label = events
    assert (opened.external_id, opened.order_ref, opened.currency, opened.platform_state) == (
        "6042537",
        "90507",
        "USD",
        "open",
    )
    assert opened.customer_email == "redacted@example.com"
    assert opened.customer_name == "REDACTED NAME"  # no customer_detail: the address's name
    assert opened.address["postcode"] == "10024"
    assert opened.occurred_at == datetime(2020, 10, 29, 16, 7, 31, tzinfo=UTC)
    (unit,) = opened.units
    assert unit == ev.UnitData(
        external_id="59160778",
        platform_sku="AU1022E00000",
        barcode="",
        title="Gold Bamboo Huggie Earrings - 14K / Yellow / Single",
        price=Decimal("120.00"),
        discount=Decimal("119.88"),
        tax=Decimal("0.01"),
        reason="Item was too big",
        outcome="refund",  # "default": the return's own outcome
    )
    # "N/A" before a label exists is no tracking number.
    assert (label.status, label.carrier, label.tracking) == ("pending", "", "")
    assert label.occurred_at == datetime(2020, 10, 29, 16, 7, 33, tzinfo=UTC)


def test_aurate_return_closed_with_a_manual_zero_refund_is_no_refund():
    created, closed = parse_return(real(CREATED), LONDON), parse_return(real(CLOSED), LONDON)
    assert [type(e).__name__ for e in closed] == ["ReturnOpened", "LabelUpdated"]
    assert real(CLOSED)["refunds"] == [{"gateway": "manual", "amount": "0.00"}]
    assert not of(ev.RefundIssued, closed)
    assert closed[0].event_key == created[0].event_key  # the same return, the same fact
    (label,) = of(ev.LabelUpdated, closed)
    assert (label.status, label.carrier, label.tracking) == (
        "new",
        "USPS",
        "9461236895234251536060",
    )
    assert label.event_key != of(ev.LabelUpdated, created)[0].event_key  # a new label state
    assert label.occurred_at == datetime(2020, 10, 29, 16, 7, 35, tzinfo=UTC)


def _signed_post(url: str, secret: str, body: bytes) -> httpx.Response:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return httpx.post(
        url,
        content=body,
        timeout=30,
        headers={"Content-Type": "application/json", "X-Loop-Signature": signature.decode()},
    )


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_aurate_bodies_through_a_live_hub_become_the_return(live_server, monkeypatch):
    from tests.factories import PlatformConnectionFactory

    monkeypatch.setattr("returns_hub.services.inbox.async_task", lambda *a, **k: None)
    connection = PlatformConnectionFactory(platform="loop", slug="aurate")
    url = f"{live_server.url}/webhooks/loop/{connection.slug}/"
    ids = []
    for name in (CREATED, CLOSED):
        response = _signed_post(url, connection.webhook_secret, real_bytes(name))
        assert response.status_code == 202, response.text
        ids.append(response.json()["delivery"])
    assert _signed_post(url, connection.webhook_secret, real_bytes(CLOSED)).status_code == 200
    assert _signed_post(url, "not-the-secret", real_bytes(CLOSED)).status_code == 401

    assert [tasks.process_delivery(i) for i in ids] == ["processed", "processed"]

    ret = Return.objects.get(connection=connection, external_id="6042537")
    assert (ret.associated_ref, ret.order_ref, ret.currency) == ("LOOP-6042537", "90507", "USD")
    assert (ret.customer_email, ret.customer_name) == ("redacted@example.com", "REDACTED NAME")
    assert (ret.label_status, ret.label_carrier, ret.label_tracking) == (
        "new",
        "USPS",
        "9461236895234251536060",
    )
    assert ret.label_updated_at == datetime(2020, 10, 29, 16, 7, 35, tzinfo=UTC)
    # The manual 0.00 refund moved no money: nothing refunded, the settlement still awaited.
    assert (ret.refunded_amount, ret.refunded_at, ret.money_state) == (0, None, "pending")
    (unit,) = ret.units.all()
    assert (unit.external_id, unit.platform_sku, unit.outcome, unit.grade_note) == (
        "59160778",
        "AU1022E00000",
        "refund",
        "",
    )
    assert (unit.price, unit.discount, unit.tax, unit.expected_credit) == (
        Decimal("120.00"),
        Decimal("119.88"),
        Decimal("0.01"),
        Decimal("0.13"),
    )
    kinds = list(ret.timeline.filter(kind__startswith="platform_").values_list("kind", flat=True))
    assert kinds.count("platform_label_updated") == 2
    assert "platform_refund_issued" not in kinds
    assert not ExceptionCase.objects.filter(kind="invalid_payload").exists()


# --- Loop's documented webhook example: JSON numbers --------------------------------------


def test_loop_docs_example_reads_numbers_exactly():
    payload = real(DOCS)
    assert payload["refunds"][0]["amount"] == 20 and payload["address"]["zip"] == 90210
    events = parse_return(payload, LONDON)
    assert [type(e).__name__ for e in events] == [
        "ReturnOpened",
        "LabelUpdated",
        "RefundIssued",
        "CreditIssued",
    ]
    opened, label, refund, gift_card = events
    assert (opened.external_id, opened.order_ref, opened.customer_email, opened.customer_name) == (
        "1673",
        "47727779",
        "jf@example.com",
        "Jean Launier",
    )
    assert opened.address["postcode"] == "90210"
    assert opened.handling_fee == Decimal("5.00")
    (unit,) = opened.units
    # The documented line item has no price: Khaos prices it from the source order.
    assert (unit.external_id, unit.platform_sku, unit.price) == ("123456789", "new-sku", None)
    assert (label.status, label.carrier, label.tracking) == ("new", "USPS", "123456789101112")
    assert (refund.amount, refund.currency, refund.reference) == (
        Decimal("20.00"),
        "USD",
        "987654321",
    )
    assert (gift_card.amount, gift_card.kind) == (Decimal("25.00"), "gift_card")
    assert refund.occurred_at == datetime(2023, 5, 2, 15, tzinfo=UTC)


# --- The open-source extractor's schema of the return list ---------------------------------

SAMPLE_LINE = {
    "line_item_id": "40001",
    "provider_line_item_id": "9990001",
    "product_id": "7770001",
    "variant_id": "8880001",
    "sku": "HF-TEE-ORG-WHT-M",
    "title": "Organic Cotton Tee - White - M",
    "price": "45.00",
    "discount": "5.00",
    "tax": "8.00",
    "refund": "48.00",
    "returned_at": "2023-06-01 10:00:00",
    "exchange_variant": "",
    "return_reason": "Too big",
    "parent_return_reason": "Fit",
    "return_comment": "",
    "barcode": "5061234202016",
    "outcome": "default",
    "provider_restock_location_id": "66001",
}
SAMPLE = {
    "id": "90001",
    "state": "cancelled",
    "created_at": "2023-06-01T10:00:00+00:00",
    "updated_at": "2023-06-03T10:00:00+00:00",
    "edited_at": "2023-06-02T09:30:00+00:00",
    "total": "48.00",
    "outcome": "refund",
    "order_id": "7001",
    "order_name": "#1201",
    "provider_order_id": "5550001",
    "order_number": "1201",
    "customer": "ada@example.com",
    "multi_currency": False,
    "currency": "GBP",
    "return_product_total": "45.00",
    "return_discount_total": "5.00",
    "return_tax_total": "8.00",
    "return_total": "48.00",
    "return_credit_total": "0.00",
    "exchange_product_total": "0.00",
    "exchange_discount_total": "0.00",
    "exchange_tax_total": "0.00",
    "exchange_total": "0.00",
    "exchange_credit_total": "0.00",
    "gift_card": "4.00",
    "gift_card_order_name": "GC-1",
    "gift_card_order_id": "8001",
    "handling_fee": "1.50",
    "refund": "44.00",
    "upsell": "0.00",
    "line_items": [SAMPLE_LINE],
    "exchanges": [],
    "carrier": "Royal Mail",
    "tracking_number": "QF000000001GB",
    "label_status": "in_transit",
    "label_url": "https://example.com/label.pdf",
    "label_rate": "3.95",
    "status_page_url": "https://example.com/status",
    "label_updated_at": "2023-06-01T12:00:00+00:00",
    "destination_id": 3,
    "return_method": "mail",
    "package_reference": "PKG-1",
}
# What the parser reads, each with another value that must change what it emits.
READ = {
    "id": "90002",
    "state": "expired",
    "created_at": "2023-06-01T11:00:00+00:00",
    "edited_at": "2023-06-02T10:30:00+00:00",
    "order_name": "#1202",
    "order_number": "1203",  # read when order_name is absent (below)
    "customer": "bob@example.com",
    "currency": "EUR",
    "gift_card": "5.00",
    "handling_fee": "2.00",
    "line_items": [{**SAMPLE_LINE, "line_item_id": "40002"}],
    "exchanges": [{"exchange_id": "1", "sku": "HF-TEE-ORG-WHT-L", "total": "45.00"}],
    "carrier": "Evri",
    "tracking_number": "H01HYA0000000001",
    "label_status": "delivered",
    "label_updated_at": "2023-06-01T13:00:00+00:00",
}
READ_LINE = {
    "line_item_id": "40003",
    "sku": "HF-TEE-ORG-BLK-M",
    "title": "Organic Cotton Tee - Black - M",
    "price": "46.00",
    "discount": "4.00",
    "tax": "9.00",
    "return_reason": "Too small",
    "barcode": "5061234202023",
    "outcome": "keep_item",
}
# What it leaves alone, and why: totals are Loop's sums of the lines (the hub sums its
# own); `refund` is what is planned, not what was paid (refunds[] says that); the rest
# names Loop's or Shopify's records, which the hub does not keep.
IGNORED = {
    "updated_at",
    "total",
    "outcome",
    "order_id",
    "provider_order_id",
    "multi_currency",
    "return_product_total",
    "return_discount_total",
    "return_tax_total",
    "return_total",
    "return_credit_total",
    "exchange_product_total",
    "exchange_discount_total",
    "exchange_tax_total",
    "exchange_total",
    "exchange_credit_total",
    "gift_card_order_name",
    "gift_card_order_id",
    "refund",
    "upsell",
    "label_url",
    "label_rate",
    "status_page_url",
    "destination_id",
    "return_method",
    "package_reference",
}
IGNORED_LINE = {
    "provider_line_item_id",
    "product_id",
    "variant_id",
    "refund",
    "returned_at",
    "exchange_variant",
    "parent_return_reason",
    "return_comment",
    "provider_restock_location_id",
}


def _schema():
    return json.loads(real_bytes(SCHEMA))


def _other(value):
    """Another value of the same JSON type, for a field the parser must not read."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return f"{value}-changed" if value else "changed"


def test_the_schema_names_only_fields_this_test_places():
    schema = _schema()
    properties = set(schema["properties"])
    line_properties = set(schema["properties"]["line_items"]["items"]["properties"])
    assert properties == set(SAMPLE) == set(READ) | IGNORED
    assert not set(READ) & IGNORED
    assert line_properties == set(SAMPLE_LINE) == set(READ_LINE) | IGNORED_LINE
    assert not set(READ_LINE) & IGNORED_LINE
    jsonschema.Draft7Validator(schema).validate(SAMPLE)
    for field, value in READ.items():
        jsonschema.Draft7Validator(schema).validate({**SAMPLE, field: value})


def test_a_body_built_from_the_schema_is_read_whole():
    events = parse_return(copy.deepcopy(SAMPLE), LONDON)
    assert [type(e).__name__ for e in events] == [
        "ReturnOpened",
        "LabelUpdated",
        "UnitsInTransit",
        "CreditIssued",
        "ReturnCancelled",
    ]
    opened, label, moved, credit, cancelled = events
    (unit,) = opened.units
    assert (unit.price, unit.discount, unit.tax, unit.outcome) == (
        Decimal("45.00"),
        Decimal("5.00"),
        Decimal("8.00"),
        "refund",
    )
    assert (opened.order_ref, opened.currency, opened.handling_fee) == (
        "1201",
        "GBP",
        Decimal("1.50"),
    )
    assert (label.status, label.carrier, label.tracking) == (
        "in_transit",
        "Royal Mail",
        "QF000000001GB",
    )
    assert (moved.shipment, moved.unit_ids) == ("QF000000001GB", ())
    assert credit.amount == Decimal("4.00")
    assert cancelled.occurred_at == datetime(2023, 6, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("field", sorted(READ))
def test_each_schema_field_the_parser_reads_changes_what_it_emits(field):
    body = copy.deepcopy(SAMPLE)
    if field == "order_number":
        body["order_name"] = None  # the fallback is read only without an order name
    before = parse_return(copy.deepcopy(body), LONDON)
    after = parse_return({**body, field: READ[field]}, LONDON)
    assert after != before
    assert not of(ev.UnitGradeUnread, after)


@pytest.mark.parametrize("field", sorted(READ_LINE))
def test_each_line_field_the_parser_reads_changes_what_it_emits(field):
    changed = {**SAMPLE, "line_items": [{**SAMPLE_LINE, field: READ_LINE[field]}]}
    assert parse_return(changed, LONDON) != parse_return(copy.deepcopy(SAMPLE), LONDON)


@pytest.mark.parametrize("field", sorted(IGNORED))
def test_each_schema_field_it_leaves_alone_changes_nothing(field):
    changed = {**SAMPLE, field: _other(SAMPLE[field])}
    assert parse_return(changed, LONDON) == parse_return(copy.deepcopy(SAMPLE), LONDON)


@pytest.mark.parametrize("field", sorted(IGNORED_LINE))
def test_each_line_field_it_leaves_alone_changes_nothing(field):
    line = {**SAMPLE_LINE, field: _other(SAMPLE_LINE[field])}
    changed = {**SAMPLE, "line_items": [line]}
    assert parse_return(changed, LONDON) == parse_return(copy.deepcopy(SAMPLE), LONDON)


# --- Loop's Happy Returns shipment webhook -------------------------------------------------


def test_the_happy_returns_shipment_webhook_carries_nothing_to_act_on():
    payload = real(SHIPMENT)
    # Two shipment ids and nothing else: no return, unit, tracking or date.
    assert set(payload) == {"topic", "trigger", "loop_shipment_id", "happy_returns_shipment_id"}
    connector = registry.get("loop")
    assert connector.webhooks.topic(payload) == "shipment.processed"
    assert not connector.handles("shipment.processed")


@pytest.mark.django_db(transaction=True)
def test_the_happy_returns_shipment_webhook_is_stored_and_ignored(loop_connection, post_webhook):
    body = real_bytes(SHIPMENT)
    response = post_webhook(loop_connection, body)
    assert response.status_code == 202
    delivery = InboxDelivery.objects.get()
    assert bytes(delivery.body) == body
    assert (delivery.topic, delivery.status) == ("shipment.processed", InboxStatus.IGNORED)
    assert "shipment.processed" in delivery.error
    assert not Return.objects.exists()
    assert not ExceptionCase.objects.exists()


# --- JSON numbers, exactly ------------------------------------------------------------------

amounts = st.one_of(
    st.integers(min_value=0, max_value=9_999_999_999),
    st.integers(min_value=1, max_value=2).flatmap(
        lambda places: st.decimals(
            min_value=0, max_value=Decimal("9999999999.99"), places=places, allow_nan=False
        )
    ),
)
MONEY_FIELDS = ("price", "discount", "tax", "amount", "gift_card", "handling_fee")


def _literal(amount) -> str:
    return str(amount) if isinstance(amount, int) else format(amount, "f")


def _body_with_numbers(values: dict) -> bytes:
    """Loop's documented body with each money field a JSON number literal."""
    payload = real(DOCS)
    line = payload["line_items"][0]
    line.update(price="@price@", discount="@discount@", tax="@tax@")
    payload["refunds"][0]["amount"] = "@amount@"
    payload.update(gift_card="@gift_card@", handling_fee="@handling_fee@")
    text = json.dumps(payload, default=str)
    for field, value in values.items():
        text = text.replace(f'"@{field}@"', _literal(value))
    return text.encode()


def _no_float(value) -> bool:
    if isinstance(value, dict):
        return all(_no_float(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_float(v) for v in value)
    return not isinstance(value, float)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.fixed_dictionaries({field: amounts for field in MONEY_FIELDS}))
def test_amounts_as_json_numbers_are_read_exactly(values):
    payload = json.loads(_body_with_numbers(values), parse_float=Decimal)
    assert _no_float(payload)
    events = parse_return(payload, LONDON)
    exact = {field: Decimal(_literal(value)) for field, value in values.items()}
    opened = events[0]
    (unit,) = opened.units
    assert (unit.price, unit.discount, unit.tax) == (
        exact["price"],
        exact["discount"],
        exact["tax"],
    )
    assert opened.handling_fee == exact["handling_fee"]
    refunds = of(ev.RefundIssued, events)
    assert [r.amount for r in refunds] == ([exact["amount"]] if exact["amount"] else [])
    credits = of(ev.CreditIssued, events)
    assert [c.amount for c in credits] == ([exact["gift_card"]] if exact["gift_card"] else [])
    assert not of(ev.UnitGradeUnread, events)


def test_a_binary_float_never_passes_for_money():
    payload = real(DOCS)
    payload["refunds"][0]["amount"] = 19.99  # what json.loads without parse_float would give
    events = parse_return(payload, LONDON)
    assert not of(ev.RefundIssued, events)  # not recorded as money…
    (unread,) = of(ev.UnitGradeUnread, events)  # …and said, so a person looks
    assert "refunds[0].amount must be a decimal string" in unread.note


# --- Labels -------------------------------------------------------------------------------


def test_a_top_level_label_and_the_same_label_in_labels_are_one_state():
    payload = real(DOCS)
    payload.update(carrier="USPS", tracking_number=123456789101112, label_status="new")
    payload["labels"].append({**payload["labels"][0], "status": "pre_transit"})
    labels = of(ev.LabelUpdated, parse_return(payload, LONDON))
    # One event per state; the top-level one (Loop's current label) last.
    assert [(x.status, x.tracking) for x in labels] == [
        ("pre_transit", "123456789101112"),
        ("new", "123456789101112"),
    ]
    assert len({x.event_key for x in labels}) == 2


def test_a_top_level_label_in_transit_moves_every_unit():
    payload = real(CREATED)
    payload.update(label_status="delivered", carrier="USPS", tracking_number="94612")
    kinds = [type(e).__name__ for e in parse_return(payload, LONDON)]
    assert kinds == ["ReturnOpened", "LabelUpdated", "UnitsInTransit", "UnitsReceived"]


# --- Grades: flat keys and nested objects ---------------------------------------------------


def _graded(**line_fields):
    payload = real(DOCS)
    payload["line_items"][0].update({"price": "19.99", **line_fields})
    return payload


NEW_YORK = ParseContext(time_zone=ZoneInfo("America/New_York"))


def test_flat_grading_keys_with_a_zoneless_time_in_the_connections_zone():
    payload = _graded(
        condition_category="grade_a",
        disposition_outcome="back_to_stock",
        inspected_at="2024-03-31 23:59:59",
    )
    (graded,) = of(ev.UnitGraded, parse_return(payload, NEW_YORK))
    assert (graded.unit_id, graded.disposition, graded.condition) == (
        "123456789",
        "back_to_stock",
        "grade_a",
    )
    assert graded.occurred_at == datetime(2024, 3, 31, 23, 59, 59, tzinfo=NEW_YORK.time_zone)
    assert graded.event_key == "loop:1673:graded:123456789:back_to_stock"


@pytest.mark.parametrize(
    ("condition", "disposition"),
    [
        ({"category": "grade_b"}, {"outcome": "resale_hold"}),
        ({"condition_category": "grade_b"}, {"disposition_outcome": "resale_hold"}),
    ],
)
def test_nested_condition_and_disposition_objects(condition, disposition):
    payload = _graded(
        condition={**condition, "description": "Scuffed", "inspected_at": "2024-04-01 08:00:00"},
        disposition={**disposition, "note": "bag and tag", "inspected_at": "2024-04-01 09:30:00"},
    )
    (graded,) = of(ev.UnitGraded, parse_return(payload, LONDON))
    assert (graded.disposition, graded.condition) == ("resale_hold", "grade_b")
    # The disposition's own time: that is when the grade became final.
    assert graded.occurred_at == datetime(2024, 4, 1, 9, 30, tzinfo=LONDON.time_zone)


def test_a_grade_is_dated_by_its_disposition_not_its_condition():
    payload = _graded(
        disposition="back_to_stock",  # the flat shape the invented fixtures use
        graded_at="2024-04-02T10:00:00Z",
        condition={"category": "grade_a", "inspected_at": "2024-04-01 08:00:00"},
    )
    (graded,) = of(ev.UnitGraded, parse_return(payload, LONDON))
    assert (graded.disposition, graded.condition) == ("back_to_stock", "grade_a")
    assert graded.occurred_at == datetime(2024, 4, 2, 10, tzinfo=UTC)


def test_empty_or_null_grade_objects_are_not_graded_yet():
    payload = _graded(condition={}, disposition={"outcome": None}, condition_category=None)
    events = parse_return(payload, LONDON)
    assert not of(ev.UnitGraded, events) and not of(ev.UnitGradeUnread, events)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"disposition": [1, 2]}, "disposition must be text or an object, got list"),
        ({"disposition": {"result": "restock"}}, "has none of outcome, disposition_outcome"),
        (
            {"disposition_outcome": "back_to_stock", "disposition": {"outcome": "recycle"}},
            "disposition is given as 'back_to_stock' and 'recycle'",
        ),
        (
            {"disposition_outcome": "back_to_stock", "inspected_at": "31/03/2024"},
            "inspected_at is not an ISO 8601",
        ),
        ({"disposition_outcome": "back_to_stock", "outcome": "upsell"}, "'upsell' is not an"),
        ({"disposition_outcome": "back\x00_to_stock"}, "U+0000"),
        ({"disposition_outcome": "back_to_stock", "sku": {"a": 1}}, "sku must be text"),
        ({"disposition_outcome": "back_to_stock", "price": "19.999"}, "two decimal places"),
    ],
)
def test_a_grade_the_hub_cannot_read_leaves_the_unit_ungraded_and_keeps_the_refund(fields, said):
    payload = _graded(**fields)
    payload["state"] = "cancelled"
    events = parse_return(payload, LONDON)
    assert not of(ev.UnitGraded, events)
    (unread,) = of(ev.UnitGradeUnread, events)
    assert unread.unit_id == "123456789" and said in unread.note
    assert [r.amount for r in of(ev.RefundIssued, events)] == [Decimal("20.00")]
    assert of(ev.ReturnCancelled, events)


def test_the_same_unread_grade_is_one_fact_in_every_snapshot():
    first = _graded(disposition=[1])
    later = _graded(disposition=[1])
    later["edited_at"] = "2023-05-03T15:00:00Z"
    keys = [of(ev.UnitGradeUnread, parse_return(p, LONDON))[0].event_key for p in (first, later)]
    assert keys[0] == keys[1]


def test_outcomes_map_and_a_connection_adds_its_own():
    payload = _graded(outcome="default")
    assert parse_return(payload, LONDON)[0].units[0].outcome == "refund"
    payload = _graded(outcome="green_return")
    assert "not an outcome" in of(ev.UnitGradeUnread, parse_return(payload, LONDON))[0].note
    kept = ParseContext(options={"loop_outcomes": {"green_return": "keep_item", "x": "restock"}})
    events = parse_return(payload, kept)
    assert events[0].units[0].outcome == "keep_item"
    assert not of(ev.UnitGradeUnread, events)


@pytest.mark.parametrize(
    "value", [None, "", {"a": 1}, [1], True, 1.5, Decimal("1.5"), "9" * 46, "12\n3", "1\x002"]
)
def test_a_body_without_a_usable_return_id_is_refused(value):
    with pytest.raises(ParseError, match=r"return\.id"):
        parse_return({**real(DOCS), "id": value}, LONDON)
    with pytest.raises(ParseError, match="JSON object"):
        parse_return([real(DOCS)], LONDON)


def test_anything_else_unreadable_is_said_and_the_refund_kept():
    garbage = {**real(DOCS), "line_items": "nope", "currency": 7, "labels": {"a": 1}}
    events = parse_return(garbage, LONDON)
    assert events[0].units == () and events[0].currency == "GBP"  # the connection's
    assert [r.amount for r in of(ev.RefundIssued, events)] == [Decimal("20.00")]
    (unread,) = of(ev.UnitGradeUnread, events)
    for said in ("line_items must be a list", "currency must be an ISO 4217", "labels must be"):
        assert said in unread.note


GRADE_KEYS = [
    "condition_category",
    "disposition_outcome",
    "disposition",
    "condition",
    "inspected_at",
    "graded_at",
    "outcome",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["grade_a", "back_to_stock", "default", "2024-03-31 23:59:59", "x\x00y", "\ud800", "N/A"]
    )
)
garbage = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["category", "outcome", "inspected_at", "disposition_outcome", "x"])
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
UNFIT = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


def _storable(event) -> bool:
    for value in vars(event).values():
        if isinstance(value, str) and (
            set(value) & UNFIT or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        ):
            return False
    return True


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(st.sampled_from(GRADE_KEYS), garbage), st.sampled_from(["closed", "cancelled"])
)
def test_garbage_in_a_lines_grade_never_loses_the_refund_or_the_cancellation(fields, state):
    payload = _graded(**fields)
    payload["state"] = state
    events = parse_return(payload, LONDON)
    assert [r.amount for r in of(ev.RefundIssued, events)] == [Decimal("20.00")]
    assert bool(of(ev.ReturnCancelled, events)) == (state == "cancelled")
    assert [u.external_id for u in events[0].units] == ["123456789"]
    grades = of(ev.UnitGraded, events) + of(ev.UnitGradeUnread, events)
    assert len(grades) <= 1
    assert all(_storable(e) for e in events)
    for grade in grades:
        if isinstance(grade, ev.UnitGradeUnread):
            assert grade.note and len(grade.note) <= 500
        else:
            assert 0 < len(grade.disposition) <= 100 and len(grade.condition) <= 50


@pytest.mark.django_db
def test_an_unread_grade_is_kept_on_the_unit_and_the_refund_and_cancellation_apply(
    loop_connection,
):
    from returns_hub.services import ingest

    payload = _graded(disposition={"result": "restock"})
    payload["state"] = "cancelled"
    ingest.apply_all(loop_connection, parse_return(payload, LONDON))
    ret = Return.objects.get(external_id="1673")
    (unit,) = ret.units.all()
    assert unit.graded_at is None and "has none of outcome" in unit.grade_note
    assert ret.refunded_amount == Decimal("20.00")
    assert ret.state == "cancelled"
    assert ret.timeline.filter(kind="platform_unit_grade_unread").exists()


# --- The poll: every state, numbers exact ----------------------------------------------------

LIST = "https://loop.example.com/warehouse/return/list"
SINCE, UNTIL = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)


def _client():
    connection = SimpleNamespace(base_url="https://loop.example.com", api_key="k", options={})
    return LoopClient(connection, sleep=lambda s: None)


def _listing(*ids, following=None):
    returns = [{"id": i} for i in ids]
    return httpx.Response(200, json={"returns": returns, "nextPageUrl": following})


@respx.mock
def test_the_poll_asks_for_every_state():
    route = respx.get(url__startswith=LIST)
    route.side_effect = [_listing("1", following=f"{LIST}?cursor=c2"), _listing("2")]
    changes = list(_client().changes(SINCE, UNTIL))
    assert [p["id"] for _, p in changes] == ["1", "2"]
    params = [call.request.url.params for call in route.calls]
    assert [p["state"] for p in params] == ["open,closed,expired,cancelled,review"] * 2
    # Loop's next page link carried no state: the client put it back, with the window.
    assert (params[1]["cursor"], params[1]["from"], params[1]["filter"]) == (
        "c2",
        SINCE.isoformat(),
        "updated_at",
    )


@respx.mock
def test_if_loop_takes_one_state_at_a_time_the_poll_reads_a_pass_per_state():
    route = respx.get(url__startswith=LIST)
    refused = {"message": "The given data was invalid.", "errors": {"state": ["invalid"]}}
    route.side_effect = [
        httpx.Response(422, json=refused),
        _listing("1", following=f"{LIST}?cursor=c2"),
        _listing("2"),
        _listing(),
        _listing(),
        _listing("3"),
        _listing(),
    ]
    changes = list(_client().changes(SINCE, UNTIL))
    assert [p["id"] for _, p in changes] == ["1", "2", "3"]
    states = [call.request.url.params["state"] for call in route.calls]
    assert states == [",".join(STATES), *STATES[:1], *STATES]
    assert route.calls[2].request.url.params["cursor"] == "c2"


@respx.mock
def test_a_pass_cursor_names_its_state():
    respx.get(url__startswith=LIST).mock(return_value=_listing(following=f"{LIST}?cursor=c9"))
    assert _client().page(SINCE, UNTIL, "cancelled|").next == f"cancelled|{LIST}?cursor=c9"
    respx.get(url__startswith=LIST).mock(return_value=_listing())
    assert _client().page(SINCE, UNTIL, "cancelled|").next == "review|"
    assert _client().page(SINCE, UNTIL, "review|").next == ""
    assert _client().page(SINCE, UNTIL, "").next == ""  # all states at once: one pass


@respx.mock
def test_other_refusals_are_not_taken_for_a_single_state_list():
    route = respx.get(url__startswith=LIST).mock(return_value=httpx.Response(401))
    with pytest.raises(PermanentFailure, match="401"):
        _client().page(SINCE, UNTIL)
    assert route.call_count == 1


NUMBERS = (
    b'{"returns": [{"id": 777, "state": "closed", "currency": "GBP", "edited_at": '
    b'"2025-03-01T10:00:00Z", "refunds": [{"gateway": "Stripe", "amount": 0.1, '
    b'"provider_refund_id": 123}], "gift_card": 1E+1, "line_items": [{"line_item_id": 1, '
    b'"sku": "HF-TEE-ORG-WHT-M", "price": 19.99, "discount": 0, "tax": 3.30}]}], '
    b'"nextPageUrl": null}'
)


@respx.mock
@pytest.mark.django_db
def test_a_polled_return_keeps_its_numbers_exact_to_the_database(loop_connection):
    respx.get(url__startswith=LIST).mock(return_value=httpx.Response(200, content=NUMBERS))
    (change,) = _client().page(SINCE, UNTIL).changes
    topic, payload = change
    assert _no_float(payload) and payload["line_items"][0]["price"] == Decimal("19.99")
    assert polling.store(loop_connection, topic, payload)
    delivery = InboxDelivery.objects.get()
    assert b'"price": 19.99' in bytes(delivery.body) and b'"tax": 3.30' in bytes(delivery.body)
    assert tasks.process_delivery(delivery.pk) == "processed"
    ret = Return.objects.get(external_id="777")
    (unit,) = ret.units.all()
    assert (unit.price, unit.tax, unit.expected_credit) == (
        Decimal("19.99"),
        Decimal("3.30"),
        Decimal("23.29"),
    )
    assert ret.refunded_amount == Decimal("0.10")
    assert ret.store_credit_amount == Decimal("10.00")


def _simulator():
    sim = PlatformSimulator(LoopDialect(), demo.catalogue("loop"), api_key="k")
    kept, cancelled = sim.new_return(), sim.new_return()
    cancelled.ending = "cancelled"
    return sim, kept, cancelled


def _listed(sim, **query):
    status, body = sim.handle("GET", "/warehouse/return/list", query, {}, {"X-Authorization": "k"})
    return status, body


def test_the_simulator_lists_cancelled_returns_only_when_asked_as_loop_does():
    sim, kept, cancelled = _simulator()
    status, body = _listed(sim)
    assert status == 200 and [r["id"] for r in body["returns"]] == [kept.id]
    status, body = _listed(sim, state="cancelled")
    assert [r["id"] for r in body["returns"]] == [cancelled.id]
    status, body = _listed(sim, state="open,cancelled")
    assert status == 422 and "state" in body["errors"]


def test_the_poll_finds_a_cancelled_return_in_the_simulator():
    sim, kept, cancelled = _simulator()
    connection = SimpleNamespace(base_url=sim.serve(), api_key="k", options={})
    try:
        changes = LoopClient(connection, sleep=lambda s: None).changes(SINCE, datetime.now(UTC))
        states = {p["id"]: p["state"] for _, p in changes}
    finally:
        sim.stop()
    assert states == {kept.id: "open", cancelled.id: "cancelled"}
