"""Happy Returns as it really sends: the public examples in fixtures/realworld/happy_returns/,
through the parser, the inbox and a live hub, beside the invented fixtures that must not change.
"""

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import registry, tasks
from connectors.base import parsing as p
from connectors.base.connector import ParseContext
from connectors.base.errors import ParseError
from connectors.happy_returns import parser, webhooks
from returns_hub import events as ev
from returns_hub.choices import InboxStatus
from returns_hub.models import CustomerMapping, InboxDelivery, Return, SkuMapping
from returns_hub.services import actions, ingest
from tests.conftest import FIXTURES, send_webhook
from tests.factories import PlatformConnectionFactory

REAL = FIXTURES / "realworld" / "happy_returns"
ASN = "hr_docs_return_asn_example_partial.json"
LABEL = "hr_docs_return_label_update_example.json"
OUTBOUND_V1 = "hr_docs_outbound_shipment_v1_fields.md"
LOOP_SHIPMENT = "loop_docs_happy_returns_shipment_webhook.json"  # Loop's connector reads it
ASN_RETURN = "5035789d-f873-4bad-b2f3-2daca346c111"
LABEL_RETURN = "515764c3-2ff3-11eb-b93e-2a27f3aba64d"
EUR_NEW_YORK = ParseContext(currency="EUR", time_zone=ZoneInfo("America/New_York"))


def real(name: str):
    return json.loads((REAL / name).read_bytes(), parse_float=Decimal)


def parse(payload, context=EUR_NEW_YORK):
    connector = registry.get("happy-returns")
    return list(connector.parse(webhooks.topic(payload), payload, context))


def test_every_real_file_is_one_this_module_checks():
    # A file added to the folder without a test here fails, rather than being skipped over.
    assert sorted(path.name for path in REAL.iterdir()) == sorted(
        [ASN, LABEL, OUTBOUND_V1, LOOP_SHIPMENT]
    )
    for name in (ASN, LABEL, LOOP_SHIPMENT):
        assert isinstance(json.loads((REAL / name).read_bytes()), dict)


# --- recognising a delivery -------------------------------------------------------------


def test_documented_return_asn_has_no_webhook_type_and_is_recognised_by_its_shape():
    payload = real(ASN)
    assert "webhookType" not in payload
    assert webhooks.topic(payload) == "return.asn"
    body = (REAL / ASN).read_bytes()
    key = webhooks.dedup_key(payload, body)
    assert key.startswith("return.asn:")
    assert webhooks.dedup_key(json.loads(body, parse_float=Decimal), body) == key  # redelivered


def test_label_webhook_is_recognised_by_its_webhook_type_and_by_its_shape():
    payload = real(LABEL)
    assert webhooks.topic(payload) == "return.label.update"
    del payload["webhookType"]
    assert webhooks.topic(payload) == "return.label.update"


@pytest.mark.parametrize(
    ("payload", "topic"),
    [
        ({"palletNumber": "PLT-1", "items": []}, "outbound_shipment.asn"),
        ({"poNumber": "PO-1", "items": [{"happyReturnsReturnID": "r1"}]}, "outbound_shipment.asn"),
        ({"items": [{"happyReturnsReturnID": "r1"}]}, "return.asn"),
        # A webhookType the hub does not know never hides items it can read.
        ({"webhookType": "return.asn.v2", "items": [{"happyReturnsReturnID": "r1"}]}, "return.asn"),
        ({"event": "return_status_updated", "typeID": "started"}, "return.asn"),
        ({"webhookType": "something.else"}, "something.else"),
        ({"event": {"not": "text"}}, ""),
        ({"retailerID": "modern-retailer"}, ""),
    ],
)
def test_topic_by_webhook_type_else_by_shape(payload, topic):
    assert webhooks.topic(payload) == topic


def test_the_loop_shipment_body_is_not_a_happy_returns_delivery():
    # Loop's own webhook about HR shipments (Loop's connector reads it): nothing here.
    assert webhooks.topic(real(LOOP_SHIPMENT)) == ""


# --- the documented return.asn -----------------------------------------------------------


def test_documented_return_asn_becomes_a_started_return_with_its_unit():
    (opened,) = parse(real(ASN))  # `started`, drop-off method chosen: nothing has moved yet

    assert isinstance(opened, ev.ReturnOpened)
    assert opened.external_id == ASN_RETURN
    assert opened.order_ref == "272034"
    assert opened.customer_email == "customer@example.com"
    assert opened.currency == "EUR"  # the body has none: the connection's
    assert opened.occurred_at is None
    assert opened.units == (
        ev.UnitData(
            external_id="13377523220546-0-5",  # no happyReturnsItemID: the order line's id
            platform_sku="nomshrts-1",
            barcode="SKDFHWEW-DKFD",
            title="No[...TRUNCATED in the stored copy of the page...]",
            price=None,  # no price: Khaos prices the line from the source order
            outcome="refund",
        ),
    )
    assert opened.event_key == f"hr:{ASN_RETURN}:opened:{p.digest('13377523220546-0-5')}"


def test_order_number_with_a_hash_is_stored_without_it():
    payload = real(ASN)
    payload["items"][0]["orderNumber"] = "#272034"
    assert parse(payload)[0].order_ref == "272034"


def test_a_status_aggregated_in_other_events_is_applied():
    payload = real(ASN)
    payload["otherEvents"].append({"event": "return_status_updated", "typeID": "dropped-off"})
    opened, moved = parse(payload)
    assert isinstance(opened, ev.ReturnOpened)
    assert isinstance(moved, ev.UnitsInTransit)
    assert moved.unit_ids == ("13377523220546-0-5",)


def test_equal_order_lines_without_item_ids_take_their_place_as_unit_id():
    payload = real(ASN)
    first = payload["items"][0]
    payload["items"] = [
        {**first, "orderLineItemID": "LI-1"},
        {**first, "orderLineItemID": "LI-2"},
        {**first, "orderLineItemID": "LI-1"},
        {**first, "orderLineItemID": "LI-1", "happyReturnsItemID": "item-9"},
    ]
    (opened,) = parse(payload)
    assert [u.external_id for u in opened.units] == ["LI-1", "LI-2", "LI-1#2", "item-9"]


def test_an_item_with_no_identity_at_all_is_refused_clearly():
    payload = real(ASN)
    del payload["items"][0]["orderLineItemID"]
    with pytest.raises(ParseError, match=r"neither happyReturnsItemID nor orderLineItemID"):
        parse(payload)


def test_the_same_item_id_twice_is_refused_clearly():
    payload = real(ASN)
    item = {**payload["items"][0], "happyReturnsItemID": "item-1"}
    payload["items"] = [item, item]
    with pytest.raises(ParseError, match="names unit item-1 more than once"):
        parse(payload)


def test_a_price_and_currency_in_the_body_are_used():
    payload = real(ASN)
    payload["items"][0].update(price="20.00", tax="4.00", currency="usd")
    (opened,) = parse(payload)
    assert (opened.units[0].price, opened.units[0].tax, opened.currency) == (
        Decimal("20.00"),
        Decimal("4.00"),
        "USD",
    )


# --- the label webhook ------------------------------------------------------------------


def test_label_update_parses_into_label_updated():
    assert parse(real(LABEL)) == [
        ev.LabelUpdated(
            LABEL_RETURN,
            f"hr:{LABEL_RETURN}:label:{p.digest('HR2ABCDEFGHI', 'updated', 'HRVPBGPR')}",
            None,
            status="updated",  # the documented typeID is empty
            tracking="HR2ABCDEFGHI",
        )
    ]


@pytest.mark.django_db
def test_label_update_on_a_known_return_sets_its_label_and_keeps_its_units(workspace):
    hr = workspace.connections["happy-returns"]
    ingest.apply_all(hr, parse(real(ASN), ParseContext.of(hr)))
    label = real(LABEL)
    label["happyReturnsReturnID"] = ASN_RETURN

    ingest.apply_all(hr, parse(label, ParseContext.of(hr)))

    ret = Return.objects.get(connection=hr, external_id=ASN_RETURN)
    assert (ret.label_status, ret.label_tracking, ret.label_carrier) == (
        "updated",
        "HR2ABCDEFGHI",
        "",
    )
    assert ret.label_updated_at is not None
    assert list(ret.units.values_list("external_id", flat=True)) == ["13377523220546-0-5"]
    assert ret.timeline.filter(kind="platform_label_updated").count() == 1


@pytest.mark.django_db(transaction=True)
def test_label_update_through_the_webhook_endpoint(post_webhook):
    connection = PlatformConnectionFactory(platform="happy-returns", slug="hr-label")
    body = (REAL / LABEL).read_bytes()

    assert post_webhook(connection, body).status_code == 202
    assert post_webhook(connection, body).status_code == 200  # the same delivery again

    delivery = InboxDelivery.objects.get()
    assert (delivery.topic, delivery.status) == ("return.label.update", InboxStatus.PROCESSED)
    ret = Return.objects.get(connection=connection, external_id=LABEL_RETURN)
    assert (ret.label_status, ret.label_tracking) == ("updated", "HR2ABCDEFGHI")
    assert ret.timeline.filter(kind="platform_label_updated").count() == 1


# --- the outbound shipment (V1 field list) ----------------------------------------------

# The V1 page is documentation, not a body: this one is built from its item fields (those the
# stored copy shows, each checked to be in it) and the pallet fields the contract names.
V1_ITEM_FIELDS = ["purchasedDate", "orderNumber", "orderID", "orderLineItemID", "sku", "upc"]


def outbound_from_the_v1_fields() -> dict:
    def item(line: str) -> dict:
        return {
            "happyReturnsReturnID": "r-v1",
            "purchasedDate": "2024-01-05",
            "orderNumber": "272034",
            "orderID": "5324938444866",
            "orderLineItemID": line,
            "sku": "nomshrts-1",
            "upc": "SKDFHWEW-DKFD",
        }

    # The page's own example: two units of one SKU share a line, suffixed offset-total.
    return {
        "poNumber": "PO-1",
        "palletNumber": "PLT-1",
        "carrier": "UPS",
        "tracking": "1Z999",
        "departureDate": "2024-03-07T14:30:00",  # no zone: read in the connection's
        "items": [item("12345-0-2"), item("12345-1-2")],
    }


def test_outbound_shipment_built_from_the_v1_fields_is_recognised_and_parsed():
    text = (REAL / OUTBOUND_V1).read_text()
    assert all(f"- {field} - String" in text for field in V1_ITEM_FIELDS)
    assert "12345-0-2 and 12345-1-2" in text
    payload = outbound_from_the_v1_fields()
    assert set(V1_ITEM_FIELDS) <= set(payload["items"][0])

    opened, announced = parse(payload)

    assert [(u.external_id, u.platform_sku, u.price) for u in opened.units] == [
        ("12345-0-2", "nomshrts-1", None),
        ("12345-1-2", "nomshrts-1", None),
    ]
    assert isinstance(announced, ev.ShipmentAnnounced)
    assert (announced.reference, announced.po_number, announced.unit_ids) == (
        "PLT-1",
        "PO-1",
        ("12345-0-2", "12345-1-2"),
    )
    assert announced.departed_at.utcoffset().total_seconds() == -5 * 3600  # New York, March


# --- the invented fixtures are unchanged -------------------------------------------------


@pytest.mark.parametrize("path", sorted((FIXTURES / "happy_returns").glob("*.json")), ids=str)
def test_invented_fixtures_keep_their_topic_prices_and_currency(path):
    payload = json.loads(path.read_bytes(), parse_float=Decimal)
    assert webhooks.topic(payload) == payload["webhookType"]
    events = parse(payload)  # a EUR connection: the body's GBP wins
    for opened in (e for e in events if isinstance(e, ev.ReturnOpened)):
        assert opened.currency == "GBP"
        assert all(u.price is not None and u.price > 0 for u in opened.units)
        by_item = {i["happyReturnsItemID"] for i in payload["items"]}
        assert {u.external_id for u in opened.units} <= by_item


# --- the unit identity rule, as a property -----------------------------------------------

lines = st.sampled_from(["LI-1", "LI-2", "13377523220546-0-5"])
item_ids = st.uuids().map(str)


@st.composite
def asn_items(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    ids = draw(st.lists(item_ids, min_size=count, max_size=count, unique=True))
    items = []
    for index in range(count):
        item = {"happyReturnsReturnID": "r1", "orderLineItemID": draw(lines), "sku": f"S{index}"}
        if draw(st.booleans()):
            item["happyReturnsItemID"] = ids[index]
        items.append(item)
    return items


def units_of(items) -> list[str]:
    payload = {"event": "return_status_updated", "typeID": "started", "items": items}
    (opened,) = parser.parse_return_asn(payload)
    return [u.external_id for u in opened.units]


@settings(max_examples=200, deadline=None)
@given(items=asn_items(), seed=st.randoms(use_true_random=False))
def test_unit_identity_is_stable_and_item_ids_survive_reordering(items, seed):
    ids = units_of(items)
    assert units_of(json.loads(json.dumps(items))) == ids  # the same body: the same ids
    assert len(set(ids)) == len(ids)  # one id per physical unit
    for item, unit_id in zip(items, ids, strict=True):
        if "happyReturnsItemID" in item:
            assert unit_id == item["happyReturnsItemID"]

    # Items with an item id shuffled among their own places: every item keeps its id.
    with_id = [n for n, item in enumerate(items) if "happyReturnsItemID" in item]
    moved = with_id[:]
    seed.shuffle(moved)
    shuffled = items[:]
    for source, target in zip(with_id, moved, strict=True):
        shuffled[target] = items[source]
    again = dict(zip(map(id, shuffled), units_of(shuffled), strict=True))
    assert [again[id(item)] for item in items] == ids

    # Any order at all: the same set of ids (equal lines are interchangeable units).
    anyhow = items[:]
    seed.shuffle(anyhow)
    assert sorted(units_of(anyhow)) == sorted(ids)


# --- the real return.asn through a live hub ----------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_real_return_asn_through_a_live_hub_then_posted_without_a_unit_price(
    live_server, workspace, role_users, api_client_for, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "returns_hub.services.inbox.async_task", lambda *args, **kw: queued.append(args)
    )
    hr = workspace.connections["happy-returns"]
    body = (REAL / ASN).read_bytes()

    response = send_webhook(live_server.url, hr, body)

    assert response.status_code == 202, response.text
    delivery = InboxDelivery.objects.get(pk=response.json()["delivery"])
    assert (delivery.topic, delivery.status) == ("return.asn", InboxStatus.RECEIVED)
    assert queued == [("connectors.tasks.process_delivery", delivery.pk)]
    assert tasks.process_delivery(delivery.pk) == InboxStatus.PROCESSED
    assert send_webhook(live_server.url, hr, body).status_code == 200  # redelivered: a duplicate

    ret = Return.objects.get(connection=hr, external_id=ASN_RETURN)
    assert (ret.associated_ref, ret.order_ref, ret.customer_email, ret.currency) == (
        f"HR-{ASN_RETURN}",
        "272034",
        "customer@example.com",
        "GBP",
    )
    assert (ret.state, ret.money_state) == ("expected", "pending")  # started, not dropped off
    (unit,) = ret.units.all()
    assert (unit.external_id, unit.platform_sku, unit.price_known) == (
        "13377523220546-0-5",
        "nomshrts-1",
        False,
    )
    assert unit.state == "expected"
    # Held, as it should be: nothing is graded, and Khaos knows no such SKU.
    assert not ret.postings.exists()
    assert sorted(ret.exceptions.filter(status="open").values_list("kind", "owner")) == [
        ("unknown_sku", "data")
    ]

    # The data team maps the SKU and the customer; the warehouse grades the unit.
    SkuMapping.objects.create(
        platform="happy-returns", platform_sku="nomshrts-1", stock_code="HF-KNT-MCR-NVY-S"
    )
    # HR sends no name or address, which Khaos needs: the customer row carries them.
    CustomerMapping.objects.create(
        email="customer@example.com",
        urn="WEB10299",
        name="Casey Example",
        line1="1 High Street",
        town="York",
        postcode="YO1 1AA",
        country="GB",
    )
    unit.refresh_from_db()
    assert (unit.expected_credit, unit.expected_credit_estimated) == (Decimal("59.00"), True)
    actions.grade_unit(unit, "sellable", user=role_users["warehouse"])

    posting = ret.postings.get()
    assert posting.state == "ready", "\n".join(ret.timeline.values_list("message", flat=True))
    assert posting.expected_credit == Decimal("59.00")  # the Khaos SellPrice, an estimate
    (item,) = posting.payload["ReturnedItems"]
    assert (item["SKU"], item["Quantity"], item["ReturnReason"]) == (
        "HF-KNT-MCR-NVY-S",
        1,
        {"ID": "3"},
    )
    source_key = str(workspace.channel.source_reference_key)  # the channel's choice of name
    assert item[source_key] == {"SourceOrder": {"AssociatedRef": "272034"}}
    # No platform price: Khaos prices the line from the source order.
    assert "UnitPrice" not in item
    detail = api_client_for("finance").get(f"/api/v1/returns/{ret.pk}/").json()
    assert detail["expected_credit_estimated"] is True
    assert [(u["expected_credit"], u["expected_credit_estimated"]) for u in detail["units"]] == [
        ("59.00", True)
    ]
