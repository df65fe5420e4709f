"""ReBound as its only public field list has it (tap-rebound's schema of
``/returns/get``, kept unchanged in tests/fixtures/realworld/rebound/): every
field a string, no currency, zoneless times; an empty search is
``{"error": {"code": "empty"}}``; items carry no id; and a poll of an
unchanged return stores nothing new."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import polling, registry, simulators, tasks
from connectors.base.connector import ParseContext
from connectors.base.errors import ParseError
from connectors.base.simulator import STEPS
from connectors.rebound.client import ReboundClient
from returns_hub import events as ev
from returns_hub.choices import ExceptionKind, InboxSource
from returns_hub.models import ExceptionCase, InboxDelivery, Return
from tests.conftest import FIXTURES, fixture_json
from tests.factories import PlatformConnectionFactory

REALWORLD = FIXTURES / "realworld" / "rebound"
SCHEMA = json.loads((REALWORLD / "tap_rebound_schema_returns.json").read_text())
NEW_YORK = ZoneInfo("America/New_York")


def kinds_of(schema: dict) -> list[str]:
    """The JSON types a property may have, but null: ``"object"`` or ``["null", "string"]``."""
    types = schema["type"]
    return [k for k in ([types] if isinstance(types, str) else types) if k != "null"]


def build(schema: dict, values: dict, path: str = "") -> object:
    """A value for every property of ``schema``, each string one a string: ``values``
    by path where given (lists of overrides for arrays), else a made-up text."""
    (kind,) = kinds_of(schema)
    if kind == "object":
        return {
            name: build(sub, values.get(name, {}) if isinstance(values, dict) else {}, name)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [build(schema["items"], each, path) for each in values or [{}]]
    assert kind == "string", (path, kind)
    return values if isinstance(values, str) else f"{path} text"


def leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


REASON = {
    "action": "Refund",
    "reason": "Too big",
    "wish": "Refund to original payment method",
    "additional": {"title": "Comment", "value": "Sleeves too long"},
}
JUMPERS = {
    "sku_code": "HF-KNT-MCR-OAT-M",
    "sku_desc": "Merino Crew Jumper",
    "quantity": "2",
    "price": "12.50",
    "final_disposition": "",
    "reason": [REASON],
}
BOOTS = {
    "sku_code": "HF-FTW-CHL-BRN-08",
    "sku_desc": "Chelsea Boot",
    "quantity": "1",
    "price": "120.00",
    "final_disposition": "restocked",
    "reason": [REASON],
}


def schema_return(items=None, **fields) -> dict:
    """A return answered exactly as the schema lists it, every field a string."""
    values = {
        "id": "884600",
        "order_reference": "1041",
        "date_added": "2019-05-01 10:00:00",
        "name": "Catherine Doyle",
        "email": "catherine.doyle@example.com",
        "addr1": "9 Rosebery Avenue",
        "addr2": "Heworth",
        "addr3": "",
        "city": "York",
        "zip": "YO31 7QH",
        "country": "GB",
        "current_tracking_status": "Delivered",
        "tracking_last_update": "2019-05-03 16:30:00",
        "item": [JUMPERS, BOOTS] if items is None else items,
        **fields,
    }
    return build(SCHEMA, values)


def parse(ret: dict, context=None, **envelope):
    payload = {"event": "final_disposition", **envelope, "return": ret}
    return registry.get("rebound").parse("final_disposition", payload, context or ParseContext())


# --- every field a string ---------------------------------------------------------------------


def test_the_schema_types_every_field_as_a_string():
    def kinds(schema):
        yield from kinds_of(schema)
        for sub in [*schema.get("properties", {}).values(), *[schema.get("items")]]:
            if sub:
                yield from kinds(sub)

    assert set(kinds(SCHEMA)) == {"string", "array", "object"}  # no number, no boolean
    assert "currency_code" not in SCHEMA["properties"] and "rma" not in SCHEMA["properties"]
    assert "Every field there is typed string" in (REALWORLD / "NOTES.md").read_text()


def test_a_return_built_from_the_schema_with_every_field_a_string_parses():
    ret = schema_return()
    # The body is the schema's field list exactly, and nothing but strings.
    assert set(ret) == set(SCHEMA["properties"])
    item_fields = SCHEMA["properties"]["item"]["items"]["properties"]
    assert all(set(item) == set(item_fields) for item in ret["item"])
    assert "currency_code" not in ret and "rma" not in ret
    assert all(isinstance(leaf, str) for leaf in leaves(ret))

    context = ParseContext(currency="EUR", time_zone=NEW_YORK)
    events = parse(ret, context)

    opened = events[0]
    assert isinstance(opened, ev.ReturnOpened)
    assert opened.external_id == "884600"
    assert opened.currency == "EUR"  # the connection's: ReBound says none
    assert opened.occurred_at == datetime(2019, 5, 1, 10, 0, tzinfo=NEW_YORK)
    assert opened.occurred_at.astimezone(UTC) == datetime(2019, 5, 1, 14, 0, tzinfo=UTC)
    assert [(u.external_id, u.platform_sku, u.price) for u in opened.units] == [
        ("HF-KNT-MCR-OAT-M#1", "HF-KNT-MCR-OAT-M", Decimal("12.50")),
        ("HF-KNT-MCR-OAT-M#2", "HF-KNT-MCR-OAT-M", Decimal("12.50")),
        ("HF-FTW-CHL-BRN-08", "HF-FTW-CHL-BRN-08", Decimal("120.00")),
    ]
    assert all(isinstance(u.price, Decimal) for u in opened.units)
    assert {u.reason for u in opened.units} == {"Too big"}
    graded = [e for e in events if isinstance(e, ev.UnitGraded)]
    assert [(g.unit_id, g.disposition) for g in graded] == [("HF-FTW-CHL-BRN-08", "restocked")]
    # A poll carries no sending time: the tracking's last update, in the connection's zone.
    assert graded[0].occurred_at == datetime(2019, 5, 3, 16, 30, tzinfo=NEW_YORK)
    assert {type(e) for e in events} >= {ev.UnitsInTransit, ev.UnitsReceived}


def test_the_default_context_reads_london_and_gbp():
    opened = parse(schema_return())[0]
    assert opened.currency == "GBP"
    assert opened.occurred_at == datetime(2019, 5, 1, 9, 0, tzinfo=UTC)  # BST in May


def test_a_currency_the_platform_does_give_is_kept():
    """Not in the schema, but the contract lists it: when present it wins."""
    ret = schema_return()
    ret["currency_code"] = "usd"
    assert parse(ret, ParseContext(currency="EUR"))[0].currency == "USD"
    ret["currency_code"] = "pounds"
    with pytest.raises(ParseError, match="currency_code"):
        parse(ret)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("2019-05-01 10:00:00", datetime(2019, 5, 1, 10, tzinfo=NEW_YORK)),
        ("2019/05/01 10:00:00", datetime(2019, 5, 1, 10, tzinfo=NEW_YORK)),
        ("2019-05-01T10:00:00", datetime(2019, 5, 1, 10, tzinfo=NEW_YORK)),
        ("2019-05-01T10:00:00Z", datetime(2019, 5, 1, 10, tzinfo=UTC)),  # a zone given is kept
        ("2019-05-01 10:00:00+01:00", datetime(2019, 5, 1, 9, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),  # no date
        ("", None),
    ],
)
def test_date_added_formats(written, meant):
    opened = parse(schema_return(date_added=written), ParseContext(time_zone=NEW_YORK))[0]
    assert opened.occurred_at == meant


def test_a_date_that_is_no_date_is_refused():
    with pytest.raises(ParseError, match="date_added"):
        parse(schema_return(date_added="yesterday"))


def test_the_invented_fixtures_still_parse_with_numbers_and_currency():
    payload = fixture_json("rebound/04_final_disposition_884513_unmapped_disposition.json")
    events = registry.get("rebound").parse("final_disposition", payload, ParseContext())
    opened = events[0]
    assert opened.currency == "GBP" and opened.external_id == "884513"
    # Two tees on one line, one jean: named by SKU, never by position.
    assert [u.external_id for u in opened.units] == [
        "HF-TEE-ORG-WHT-L#1",
        "HF-TEE-ORG-WHT-L#2",
        "HF-DNM-SLM-IND-3032",
    ]


# --- a unit's identity never depends on its position -------------------------------------------

ITEMS = st.lists(
    st.fixed_dictionaries(
        {
            "sku_code": st.sampled_from(["HF-A", "HF-B", "HF-C"]),
            "sku_desc": st.sampled_from(["Tee", "Jumper"]),
            "quantity": st.integers(1, 3).map(str),
            "price": st.sampled_from(["12.50", "59.00"]),
            "final_disposition": st.sampled_from(["", "restocked", "quarantined"]),
            "reason": st.sampled_from([[], [REASON], [{"reason": "Faulty"}]]),
        }
    ),
    min_size=1,
    max_size=6,
)


def units_of(events):
    """Each unit id with what it is and how it was graded."""
    opened = events[0]
    graded = {e.unit_id: e.disposition for e in events if isinstance(e, ev.UnitGraded)}
    return {
        u.external_id: (u.platform_sku, u.title, u.price, u.reason, graded.get(u.external_id, ""))
        for u in opened.units
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=ITEMS, data=st.data())
def test_reordering_items_keeps_every_unit_id(items, data):
    shuffled = data.draw(st.permutations(items))
    before, after = parse(schema_return(items)), parse(schema_return(shuffled))
    assert units_of(before) == units_of(after)
    assert sorted(e.event_key for e in before) == sorted(e.event_key for e in after)
    # Every physical unit has its own id, named by its SKU.
    units = units_of(before)
    assert len(units) == sum(int(i["quantity"]) for i in items)
    assert all(uid.split("#")[0] == sku for uid, (sku, *_rest) in units.items())


def test_a_lone_unit_is_named_by_its_sku_and_several_are_numbered():
    items = [
        {"sku_code": "HF-B", "quantity": "1", "price": "59.00", "final_disposition": "restocked"},
        {"sku_code": "HF-A", "quantity": "1", "price": "10.00", "final_disposition": ""},
        {"sku_code": "HF-B", "quantity": "1", "price": "12.50", "final_disposition": "quarantined"},
    ]
    units = units_of(parse(schema_return(items)))
    # HF-B's units are numbered by their content (the cheaper first), not by position.
    assert {uid: (price, grade) for uid, (_s, _t, price, _r, grade) in units.items()} == {
        "HF-A": (Decimal("10.00"), ""),
        "HF-B#1": (Decimal("12.50"), "quarantined"),
        "HF-B#2": (Decimal("59.00"), "restocked"),
    }


# --- the RPC API over real HTTP, through the simulator --------------------------------------


@pytest.fixture
def rebound(db):
    """A ReBound connection in New York's zone and euros, polling the simulator."""
    connection = PlatformConnectionFactory(
        platform="rebound",
        slug="rb-real",
        currency="EUR",
        time_zone="America/New_York",
        api_key="sim-key",
        options={"login": "hf", "requests_per_second": 100},
        posting_policy=registry.get("rebound").spec.default_policy,
    )
    sim = simulators.for_connection(
        connection, "http://127.0.0.1:9", secret=connection.webhook_secret, api_key="sim-key"
    )
    sim.dialect.zone = NEW_YORK  # writes its zoneless times as the connection reads them
    connection.base_url = sim.serve()
    connection.save()
    yield sim, connection
    sim.stop()


def rpc(sim, path, request):
    form = {"login": "hf", "api_key": "sim-key", "request": json.dumps(request)}
    return httpx.post(f"{sim.base_url}{path}", data=form, timeout=10).json()


def test_the_simulator_answers_as_rebound_does(rebound):
    sim, _connection = rebound
    window = {"filter": {"date_from": "2025/03/01", "date_to": "2025/03/10"}}
    assert rpc(sim, "/returns/search/json", window) == {"error": {"code": "empty"}}
    sim.new_return()
    (listed,) = rpc(sim, "/returns/search/json", window)["success"]["id"]
    ret = rpc(sim, "/returns/get/json", {"return": {"id": listed, "type": "id"}})["success"]
    assert all(isinstance(leaf, str) for leaf in leaves(ret))
    schema = set(SCHEMA["properties"])
    assert set(ret) - {"label"} <= schema  # label: the base64 label tap-rebound pops
    item_fields = set(SCHEMA["properties"]["item"]["items"]["properties"])
    assert all(set(item) <= item_fields for item in ret["item"])
    assert "currency_code" not in ret
    written = datetime.strptime(ret["date_added"], "%Y-%m-%d %H:%M:%S")  # no zone
    assert written.replace(tzinfo=NEW_YORK) == sim.returns[next(iter(sim.returns))].created


def test_an_empty_search_is_no_returns_not_a_failure(rebound):
    sim, connection = rebound
    client = ReboundClient(connection, sleep=lambda s: None)
    assert list(client.changes(datetime(2025, 3, 1, tzinfo=UTC), datetime.now(UTC))) == []
    assert polling.poll_connection(connection.pk) == "0 seen, 0 new"
    connection.refresh_from_db()
    assert connection.last_polled_at is not None
    assert (connection.poll_error, connection.poll_failing_since) == ("", None)
    assert not ExceptionCase.objects.filter(kind=ExceptionKind.PLATFORM_UNREACHABLE).exists()
    assert not InboxDelivery.objects.exists()
    assert sim.api_calls == 2  # one search each time, and no lookup


def test_two_polls_of_an_unchanged_return_store_one_row(rebound):
    sim, connection = rebound
    first, second = sim.new_return(), sim.new_return()

    assert polling.poll_connection(connection.pk) == "2 seen, 2 new"
    assert polling.poll_connection(connection.pk) == "2 seen, 0 new"
    polled = InboxDelivery.objects.filter(connection=connection, source=InboxSource.POLL)
    assert polled.count() == 2
    assert all("label" not in json.loads(bytes(d.body))["return"] for d in polled.all())

    # A change is still seen: the second return's units get their final disposition.
    second.step = STEPS.index("graded")
    for unit in second.units:
        unit.disposition = "restocked"
    assert polling.poll_connection(connection.pk) == "2 seen, 1 new"
    assert polled.count() == 3
    assert sorted(polled.values_list("topic", flat=True)) == [
        "final_disposition",
        "tracking_updated",
        "tracking_updated",
    ]

    for delivery in polled.order_by("id"):
        assert tasks.process_delivery(delivery.pk) == "processed"
    hub = Return.objects.get(connection=connection, external_id=str(int(first.id[3:])))
    assert hub.currency == "EUR"  # from the connection
    # New York wall time, read in the connection's zone: the same moment.
    assert hub.platform_created_at == first.created
    graded = Return.objects.get(connection=connection, external_id=str(int(second.id[3:])))
    assert set(graded.units.values_list("disposition", flat=True)) == {"restocked"}
    for unit in graded.units.all():  # named by SKU, whatever the position
        assert unit.external_id.split("#")[0] == unit.platform_sku


def test_a_resent_webhook_about_an_unchanged_return_is_a_duplicate(post_webhook, rebound):
    _sim, connection = rebound
    payload = {
        "event": "tracking_updated",
        "sent_at": "2019-05-03T16:30:00Z",
        "return": schema_return(),
    }
    assert post_webhook(connection, json.dumps(payload).encode()).status_code == 202
    payload["sent_at"] = "2019-05-03T16:45:00Z"  # sent again later, the return unchanged
    again = post_webhook(connection, json.dumps(payload, indent=1).encode())
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    payload["return"]["current_tracking_status"] = "Arrived at Our Hub"
    assert post_webhook(connection, json.dumps(payload).encode()).status_code == 202
    assert InboxDelivery.objects.filter(connection=connection).count() == 2
