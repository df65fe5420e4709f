"""Loop payloads → the hub's events: lenient to added fields, strict on used ones."""

import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base.errors import ParseError
from connectors.loop.parser import parse_return
from returns_hub import events as ev
from tests.conftest import FIXTURES, fixture_bytes, fixture_json

LOOP_FIXTURES = sorted(p.name for p in (FIXTURES / "loop").glob("*.json"))


@pytest.mark.parametrize("name", LOOP_FIXTURES)
def test_every_loop_fixture_parses(name):
    payload = fixture_json(f"loop/{name}")
    opened = parse_return(payload)[0]
    assert isinstance(opened, ev.ReturnOpened)
    assert opened.external_id == payload["id"]
    assert len(opened.units) == len(payload["line_items"])
    assert not opened.order_ref.startswith("#")
    for unit, line in zip(opened.units, payload["line_items"], strict=True):
        assert unit.price == Decimal(line["price"])
        assert isinstance(unit.price, Decimal)


def _kinds(name):
    return [type(e).__name__ for e in parse_return(fixture_json(f"loop/{name}"))]


def test_each_snapshot_becomes_the_facts_it_holds():
    assert _kinds("01_return_created_5001.json") == ["ReturnOpened", "LabelUpdated"]
    assert _kinds("02_return_updated_5001_one_unit_graded.json") == [
        "ReturnOpened",
        "LabelUpdated",
        "UnitsInTransit",
        "UnitsReceived",
        "UnitGraded",
    ]
    assert _kinds("03_return_closed_5001_both_graded_refunded.json") == [
        "ReturnOpened",
        "LabelUpdated",
        "UnitsInTransit",
        "UnitsReceived",
        "UnitGraded",
        "UnitGraded",
        "RefundIssued",
    ]
    assert _kinds("05_return_closed_5003_keep_item_and_donate.json") == [
        "ReturnOpened",
        "RefundIssued",
    ]


def test_grades_refunds_and_exchanges_in_detail():
    events = parse_return(fixture_json("loop/03_return_closed_5001_both_graded_refunded.json"))
    graded = [e for e in events if isinstance(e, ev.UnitGraded)]
    assert [(g.unit_id, g.disposition, g.condition) for g in graded] == [
        ("9100101", "back_to_stock", "grade_a"),
        ("9100102", "back_to_stock", "grade_b"),
    ]
    (refund,) = [e for e in events if isinstance(e, ev.RefundIssued)]
    assert (refund.amount, refund.currency, refund.reference) == (
        Decimal("59.98"),
        "GBP",
        "912345678001",
    )
    (opened, *_) = parse_return(fixture_json("loop/04_return_created_5002_exchange_in_stock.json"))
    (exchange,) = opened.exchanges
    assert (exchange.external_id, exchange.platform_sku, exchange.value) == (
        "66012",
        "HF-KNT-MCR-NVY-L",
        Decimal("59.00"),
    )
    assert opened.address["town"] and opened.address["country_code"] == "GB"


def test_first_return_in_detail():
    event, label = parse_return(fixture_json("loop/01_return_created_5001.json"))
    assert (label.status, label.carrier, label.tracking) == ("new", "Evri", "H01HYA0047815293")
    assert event.order_ref == "1001"
    assert event.customer_email == "eleanor.whitfield@example.com"
    assert event.customer_name == "Eleanor Whitfield"
    assert event.currency == "GBP"
    assert event.address == {
        "line1": "14 Chantry Lane",
        "line2": "",
        "town": "Harrogate",
        "county": "",
        "postcode": "HG1 4PQ",
        "country_code": "GB",
        "phone": "+44 7700 900123",
    }
    assert [u.external_id for u in event.units] == ["9100101", "9100102"]
    unit = event.units[0]
    assert (unit.price, unit.discount, unit.tax) == (
        Decimal("24.99"),
        Decimal("0.00"),
        Decimal("5.00"),
    )
    assert unit.reason == "Too big"
    assert unit.outcome == "refund"


def test_added_fields_are_ignored():
    payload = fixture_json("loop/01_return_created_5001.json")
    payload["brand_new_field"] = {"nested": [1, 2]}
    payload["line_items"][0]["another"] = "x"
    assert parse_return(payload)[0].external_id == "5001"


def test_a_fact_has_the_same_key_in_every_snapshot_that_repeats_it():
    def keys(name):
        return {
            type(e).__name__ + e.event_key: e.event_key
            for e in parse_return(fixture_json(f"loop/{name}"))
        }

    created = keys("01_return_created_5001.json")
    graded_one = keys("02_return_updated_5001_one_unit_graded.json")
    closed = keys("03_return_closed_5001_both_graded_refunded.json")
    # The label moved on from "new" to "delivered": a new label state, the one fact not repeated.
    (new_label,) = [k for k in set(created) - set(graded_one)]
    assert new_label.startswith("LabelUpdated") and ":new:" in new_label
    assert set(graded_one) <= set(closed)
    assert len(closed) == len(graded_one) + 2  # the second grade and the refund


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("id"), "return.id is missing"),
        (lambda p: p.update(id={"a": 1}), "return.id must be text"),
        (lambda p: p.update(id="50\n01"), "return.id contains a tab or line break"),
    ],
)
def test_only_a_return_without_a_usable_id_is_refused(change, message):
    payload = fixture_json("loop/01_return_created_5001.json")
    change(payload)
    with pytest.raises(ParseError, match=message):
        parse_return(payload)


BOTH = ["9100101", "9100102"]


@pytest.mark.parametrize(
    ("change", "message", "units", "noted"),
    [
        # The return's own unread parts are said on every unit (or on the return).
        (lambda p: p.update(line_items=[]), "lists no line item", [], [""]),
        (lambda p: p.update(line_items="nope"), "line_items must be a list", [], [""]),
        (lambda p: p.update(currency="pounds"), "ISO 4217", BOTH, BOTH),
        (lambda p: p.update(created_at="yesterday"), "not an ISO 8601", BOTH, BOTH),
        (lambda p: p["line_items"][0].pop("line_item_id"), "no line_item_id", BOTH[1:], BOTH[1:]),
        (lambda p: p["line_items"][1].update(line_item_id=9100101), "repeats", BOTH[:1], BOTH[:1]),
        # A line's unread part is said on its unit alone.
        (lambda p: p["line_items"][0].update(price=24.99), "decimal string", BOTH, BOTH[:1]),
        (lambda p: p["line_items"][0].update(price="24.999"), "two decimal", BOTH, BOTH[:1]),
        (lambda p: p["line_items"][0].update(price="abc"), "not a decimal amount", BOTH, BOTH[:1]),
    ],
)
def test_fields_in_use_are_checked_and_what_is_unread_is_said(change, message, units, noted):
    payload = fixture_json("loop/01_return_created_5001.json")
    change(payload)
    events = parse_return(payload)
    assert [u.external_id for u in events[0].units] == units
    notes = [e for e in events if isinstance(e, ev.UnitGradeUnread)]
    assert [e.unit_id for e in notes] == noted
    assert all(message in e.note for e in notes)


def _parse_bytes(body: bytes):
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # the webhook view answers 400 before any parser runs
    return parse_return(payload)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(
        min_value=0,
        max_value=len(fixture_bytes("loop/03_return_closed_5001_both_graded_refunded.json")),
    )
)
def test_truncated_bodies_raise_only_parse_errors(cut):
    body = fixture_bytes("loop/03_return_closed_5001_both_graded_refunded.json")[:cut]
    with contextlib.suppress(ParseError):
        _parse_bytes(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_raises_only_parse_errors(value):
    with contextlib.suppress(ParseError):
        parse_return(value)


@settings(max_examples=300)
@given(
    st.sampled_from(["id", "currency", "line_items", "order_name", "customer_detail", "state"]),
    json_values,
)
def test_any_value_in_a_used_field_gives_an_event_or_a_parse_error(field, value):
    payload = fixture_json("loop/01_return_created_5001.json")
    payload[field] = value
    try:
        events = parse_return(payload)
    except ParseError:
        assert field == "id"  # only a return without a usable id is refused
        return
    opened, *rest = events
    assert isinstance(opened, ev.ReturnOpened)
    if not opened.units:  # nothing readable: said, never silent
        assert any(isinstance(e, ev.UnitGradeUnread) for e in rest)
