"""Loop payloads → the hub's events: lenient to added fields, strict on used ones."""

import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base.errors import ParseError
from connectors.loop.parser import parse_return
from returns_hub.events import ReturnOpened
from tests.conftest import FIXTURES, fixture_bytes, fixture_json

LOOP_FIXTURES = sorted(p.name for p in (FIXTURES / "loop").glob("*.json"))


@pytest.mark.parametrize("name", LOOP_FIXTURES)
def test_every_loop_fixture_parses(name):
    payload = fixture_json(f"loop/{name}")
    (event,) = parse_return(payload)
    assert isinstance(event, ReturnOpened)
    assert event.external_id == payload["id"]
    assert len(event.units) == len(payload["line_items"])
    assert not event.order_ref.startswith("#")
    for unit, line in zip(event.units, payload["line_items"], strict=True):
        assert unit.price == Decimal(line["price"])
        assert isinstance(unit.price, Decimal)


def test_first_return_in_detail():
    (event,) = parse_return(fixture_json("loop/01_return_created_5001.json"))
    assert event.order_ref == "1001"
    assert event.customer_email == "eleanor.whitfield@example.com"
    assert event.customer_name == "Eleanor Whitfield"
    assert event.currency == "GBP"
    assert [u.external_id for u in event.units] == ["9100101", "9100102"]
    unit = event.units[0]
    assert (unit.price, unit.discount, unit.tax) == (
        Decimal("24.99"), Decimal("0.00"), Decimal("5.00"),
    )  # fmt: skip
    assert unit.reason == "Too big"
    assert unit.outcome == "refund"


def test_added_fields_are_ignored():
    payload = fixture_json("loop/01_return_created_5001.json")
    payload["brand_new_field"] = {"nested": [1, 2]}
    payload["line_items"][0]["another"] = "x"
    assert parse_return(payload)[0].external_id == "5001"


def test_same_change_has_the_same_event_key_and_a_new_change_a_new_one():
    first = fixture_json("loop/01_return_created_5001.json")
    again = json.loads(json.dumps(first))
    again["status_page_url"] = "https://elsewhere.example.com"  # not part of the change
    later = fixture_json("loop/02_return_updated_5001_one_unit_graded.json")
    assert parse_return(first)[0].event_key == parse_return(again)[0].event_key
    assert parse_return(first)[0].event_key != parse_return(later)[0].event_key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("id"), "return.id is missing"),
        (lambda p: p.update(line_items=[]), "line_items is empty"),
        (lambda p: p.update(line_items="nope"), "line_items must be a list"),
        (lambda p: p["line_items"][0].update(price=24.99), "must be a decimal string"),
        (lambda p: p["line_items"][0].update(price="24.999"), "more than two decimal places"),
        (lambda p: p["line_items"][0].update(price="abc"), "not a decimal amount"),
        (lambda p: p["line_items"][0].pop("line_item_id"), "line_item_id is missing"),
        (lambda p: p.update(currency="pounds"), "ISO 4217"),
        (lambda p: p.update(created_at="yesterday"), "not an ISO 8601"),
        (lambda p: p["line_items"][1].update(line_item_id=9100101), "repeats a line_item_id"),
    ],
)
def test_fields_in_use_are_checked(change, message):
    payload = fixture_json("loop/01_return_created_5001.json")
    change(payload)
    with pytest.raises(ParseError, match=message):
        parse_return(payload)


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
        return
    assert events[0].units
