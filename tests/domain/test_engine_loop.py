"""Loop fixtures through the parser and the engine: postings field by field."""

from decimal import Decimal

import pytest

from connectors.loop.parser import parse_return
from returns_hub.choices import ExceptionKind, PostingState
from returns_hub.models import ExceptionCase, Posting, Return, SkuMapping, TimelineEntry
from returns_hub.services import actions, ingest
from tests.conftest import FIXTURES, fixture_json

pytestmark = pytest.mark.django_db


def replay(connection, *names) -> Return:
    for name in names:
        ingest.apply_all(connection, parse_return(fixture_json(f"loop/{name}")))
    return Return.objects.get(
        connection=connection, external_id=fixture_json(f"loop/{names[-1]}")["id"]
    )


def snapshot():
    return [
        list(model.objects.order_by("pk").values())
        for model in (Return, Posting, ExceptionCase, TimelineEntry)
    ]


def test_loop_5001_posts_once_both_units_are_graded(workspace):
    loop = workspace.connections["loop"]

    ret = replay(loop, "01_return_created_5001.json")
    assert (ret.state, ret.money_state) == ("expected", "pending")
    assert not ret.postings.exists() and not ret.exceptions.exists()

    ret = replay(loop, "02_return_updated_5001_one_unit_graded.json")
    assert sorted(ret.units.values_list("state", flat=True)) == ["graded", "received"]
    assert ret.state == "received"
    assert not ret.postings.exists()  # the planned refund is not a refund

    ret = replay(loop, "03_return_closed_5001_both_graded_refunded.json")
    posting = ret.postings.get()
    assert posting.state == PostingState.READY
    assert posting.kind == "return"
    assert posting.expected_credit == Decimal("59.98")
    doc = posting.payload
    assert doc["AssociatedRef"] == "LOOP-5001"
    assert doc["URN"] == "WEB10231"
    assert doc["ProcessReturn"] is True
    assert doc["ExchangeItems"] == []
    assert doc["ReturnedItems"] == [
        {
            "SKU": "HF-TEE-ORG-WHT-M",
            "Mapping": [{"Mapping": "StockCode"}],
            "Quantity": 2,
            "ReturnReason": {"ID": "3"},
            "UnitPrice": {"Gross": Decimal("29.99")},
            "ExtendedDescription": [],
            "SourceReference": {"SourceOrder": {"AssociatedRef": "1001"}},
        }
    ]
    assert doc["InvoiceAddress"] == {
        "Line1": "14 Chantry Lane",
        "Town": "Harrogate",
        "Postcode": "HG1 4PQ",
        "Telephone": "+44 7700 900123",
        "Country": {"Code": "GB"},
    }
    assert doc["InvoiceContact"] == {
        "Forename": "Eleanor",
        "Surname": "Whitfield",
        "Email": "eleanor.whitfield@example.com",
    }
    assert doc["CreatedDate"] == "2025-03-03T09:14:22"  # 09:14Z is GMT in March
    assert '"Gross":29.99' in posting.document  # an exact JSON number, never a float
    ret.refresh_from_db()
    assert (ret.state, ret.money_state, ret.refunded_amount) == (
        "graded",
        "posted",
        Decimal("59.98"),
    )
    assert not ret.exceptions.exists()


def test_replaying_every_loop_file_changes_nothing(workspace):
    loop = workspace.connections["loop"]
    names = [f"0{i}" for i in range(1, 7)]
    files = sorted(p.name for p in (FIXTURES / "loop").glob("*.json"))
    assert [f[:2] for f in files] == names
    replay(loop, *files)
    before = snapshot()
    replay(loop, *files)
    assert snapshot() == before


def test_loop_5002_exchange_order_at_request_then_return_at_grading(workspace, role_users):
    loop = workspace.connections["loop"]
    ret = replay(loop, "04_return_created_5002_exchange_in_stock.json")

    order = Posting.objects.get(kind="exchange_order")
    assert (order.associated_ref, order.state) == ("LOOP-5002-X", PostingState.READY)
    doc = order.payload
    assert doc["Customer"] == {
        "CreateNew": "Never",
        "URN": "WEB10232",
        "Currency": {"Code": "GBP"},
        "CompanyClass": {"ID": "1"},
    }
    assert doc["Header"]["SalesSource"] == {"Name": "Web"}
    assert doc["Header"]["AssociatedRef"] == "LOOP-5002-X"
    assert doc["Header"]["Site"] == {"ID": "1"}
    assert doc["Header"]["CustomData"] == "LOOP-5002"
    assert doc["Header"]["DeliveryCharge"] == {"Gross": 0}
    assert doc["Items"] == [
        {
            "SKU": "HF-KNT-MCR-NVY-L",
            "Mapping": "StockCode",
            "Quantity": 1,
            "UnitPrice": {"Gross": 0},
            "ExtendedDescription": [],
            "ImportRef": "66012",
        },
    ]
    assert not ret.postings.filter(kind="return").exists()

    unit = ret.units.get()
    actions.grade_unit(unit, "back_to_stock", user=role_users["warehouse"])

    posting = ret.postings.get(kind="return")
    assert posting.state == PostingState.READY
    assert posting.payload["ReturnedItems"][0]["SKU"] == "HF-KNT-MCR-NVY-M"
    assert posting.payload["ReturnedItems"][0]["Quantity"] == 1
    assert posting.payload["ReturnedItems"][0]["UnitPrice"] == {"Gross": Decimal("59.00")}
    assert posting.payload["ExchangeItems"] == []  # nothing ships twice
    assert posting.expected_credit == Decimal("59.00")
    assert not ret.exceptions.exists()  # the exchange value settles the credit
    entry = ret.timeline.get(kind="unit_state_changed", to_state="graded")
    assert (entry.cause, entry.actor) == ("user", role_users["warehouse"])


def test_loop_5003_keep_item_and_donate_post_at_refund_with_write_off_reasons(workspace):
    ret = replay(workspace.connections["loop"], "05_return_closed_5003_keep_item_and_donate.json")
    posting = ret.postings.get()
    items = posting.payload["ReturnedItems"]
    assert [(i["SKU"], i["Quantity"], i["ReturnReason"], i["UnitPrice"]) for i in items] == [
        ("HF-ACC-SCK-3PK-MIX", 1, {"ID": "7"}, {"Gross": Decimal("18.00")}),
        ("HF-ACC-BNE-RIB-MUS", 1, {"ID": "8"}, {"Gross": Decimal("22.00")}),
    ]
    assert posting.payload["ProcessReturn"] is True
    assert posting.expected_credit == Decimal("40.00")
    assert set(ret.units.values_list("khaos_return_reason__processing_type", flat=True)) == {
        "write_off"
    }
    assert (ret.state, ret.money_state) == ("not_returned", "posted")


def test_loop_5004_value_mismatch_holds_until_finance_approves(workspace, role_users):
    ret = replay(
        workspace.connections["loop"], "06_return_closed_5004_value_mismatch_mapped_sku.json"
    )

    case = ret.exceptions.get()
    assert (case.kind, case.owner, case.status) == ("value_mismatch", "finance", "open")
    assert case.details == {
        "settled": "149.00",
        "expected": "126.65",
        "difference": "+22.35",
        "currency": "GBP",
    }
    posting = ret.postings.get()
    assert (posting.state, posting.document) == (PostingState.HELD, "")
    assert ret.units.get().product.stock_code == "HF-OUT-RNC-STN-M"  # only through the mapping

    actions.approve_value(ret, user=role_users["finance"], note="Goodwill on a late refund")

    posting.refresh_from_db()
    case.refresh_from_db()
    assert posting.state == PostingState.READY
    assert posting.payload["ReturnedItems"] == [
        {
            "SKU": "HF-OUT-RNC-STN-M",
            "Mapping": [{"Mapping": "StockCode"}],
            "Quantity": 1,
            "ReturnReason": {"ID": "3"},
            "UnitPrice": {"Gross": Decimal("126.65")},
            "ExtendedDescription": [],
            "SourceReference": {"SourceOrder": {"AssociatedRef": "1004"}},
        },
    ]
    assert (case.status, case.resolved_by) == ("resolved", role_users["finance"])


def test_without_its_mapping_row_the_rain_jacket_is_unknown_until_the_row_returns(
    workspace, django_capture_on_commit_callbacks, api_client_for
):
    SkuMapping.objects.filter(platform_sku="RAINJKT-STONE-M").delete()
    ret = replay(
        workspace.connections["loop"], "06_return_closed_5004_value_mismatch_mapped_sku.json"
    )
    case = ret.exceptions.get(kind=ExceptionKind.UNKNOWN_SKU)
    assert (case.owner, case.unit) == ("data", ret.units.get())
    assert "RAINJKT-STONE-M" in case.message

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for("data").post(
            "/api/v1/mappings/skus/",
            {
                "platform": "loop",
                "platform_sku": "RAINJKT-STONE-M",
                "stock_code": "HF-OUT-RNC-STN-M",
            },
            format="json",
        )
    assert response.status_code == 201

    case.refresh_from_db()
    assert case.status == "resolved"
    assert ret.units.get().product.stock_code == "HF-OUT-RNC-STN-M"
    # The next cause in line is now visible: the refund is more than the credit.
    assert ret.exceptions.get(status="open").kind == ExceptionKind.VALUE_MISMATCH
