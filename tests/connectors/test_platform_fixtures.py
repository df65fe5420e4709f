"""Every platform's fixtures as signed webhooks to a live hub, through to postings
and exceptions, exactly as tests/fixtures/README.md expects."""

from decimal import Decimal

import pytest

from returns_hub.models import ExceptionCase, Posting, Return, StoreCreditLiability
from tests.conftest import fixture_webhooks, send_webhook

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def replay(live_server, workspace, platform):
    connection = workspace.connections[platform]
    files = fixture_webhooks(platform)
    for path in files:
        response = send_webhook(live_server.url, connection, path.read_bytes())
        assert response.status_code == 202, (path.name, response.text)
    for path in files:  # every file a second time: recognised, nothing changes
        assert send_webhook(live_server.url, connection, path.read_bytes()).status_code == 200
    return connection


def posting(ref):
    return Posting.objects.get(associated_ref=ref)


def items(ref):
    return [
        (i["SKU"], i["Quantity"], i["ReturnReason"]["ID"], i["UnitPrice"]["Gross"])
        for i in posting(ref).payload["ReturnedItems"]
    ]


def open_cases(ref):
    return sorted(
        ExceptionCase.objects.filter(return_ref__associated_ref=ref, status="open").values_list(
            "kind", "owner"
        )
    )


def test_loop(live_server, workspace):
    replay(live_server, workspace, "loop")
    assert posting("LOOP-5001").payload["URN"] == "WEB10231"
    assert items("LOOP-5001") == [("HF-TEE-ORG-WHT-M", 2, "3", Decimal("29.99"))]
    assert posting("LOOP-5002-X").payload["Items"][0]["SKU"] == "HF-KNT-MCR-NVY-L"
    assert not Posting.objects.filter(associated_ref="LOOP-5002").exists()  # not graded yet
    assert items("LOOP-5003") == [
        ("HF-ACC-SCK-3PK-MIX", 1, "7", Decimal("18.00")),
        ("HF-ACC-BNE-RIB-MUS", 1, "8", Decimal("22.00")),
    ]
    assert posting("LOOP-5004").state == "held"
    assert open_cases("LOOP-5004") == [("value_mismatch", "finance")]


def test_happy_returns(live_server, workspace, client, role_users):
    replay(live_server, workspace, "happy-returns")
    ref = "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5"
    ret = Return.objects.get(associated_ref=ref)
    assert (ret.state, ret.money_state, ret.refunded_amount) == (
        "in_transit",
        "refunded",
        Decimal("141.99"),
    )
    # Refunded at first scan in March 2025 and never arrived: long past the 21 days.
    assert not ret.postings.exists()
    assert open_cases(ref) == [("units_not_arrived", "warehouse")]
    pallet = Return.objects.filter(units__shipment__reference="PLT-MK-000482").distinct()
    assert sorted(r.order_ref for r in pallet) == ["1011", "1012"]
    held = Return.objects.get(order_ref="1012")
    assert open_cases(held.associated_ref) == [("inactive_sku", "data"), ("unknown_sku", "data")]
    expired = Return.objects.get(order_ref="1013")
    assert expired.state == "expired" and not expired.exceptions.exists()

    client.force_login(role_users["warehouse"])
    for unit in ret.units.all():
        url = f"/api/v1/returns/{ret.pk}/units/{unit.pk}/grade/"
        assert client.post(url, {"disposition": "sellable"}, "application/json").status_code == 200
    assert items(ref) == [
        ("HF-FTW-CHL-BRN-08", 1, "3", Decimal("120.00")),
        ("HF-ACC-BNE-RIB-MUS", 1, "3", Decimal("22.00")),
    ]
    assert posting(ref).payload["URN"] == "WEB10241"
    assert posting(ref).expected_credit == Decimal("142.00")


def test_reveni(live_server, workspace):
    replay(live_server, workspace, "reveni")
    ref = "REV-RVN-20250304-0007"
    doc = posting(ref).payload
    assert doc["ProcessReturn"] is False and doc["URN"] == "WEB10251"
    assert items(ref) == [
        ("HF-DRS-WRP-SAG-10", 1, "2", Decimal("89.00")),
        ("HF-KID-HOD-RED-0708", 1, "1", Decimal("24.00")),
    ]
    assert Return.objects.get(associated_ref=ref).units.filter(state="graded").count() == 2
    assert Posting.objects.filter(return_ref__associated_ref=ref).count() == 1
    held = Return.objects.get(order_ref="1022")
    assert held.refunded_amount == Decimal("48.00") and held.units.count() == 2
    # Refunded in March 2025 and its goods never came: long past the 21 days.
    assert open_cases(held.associated_ref) == [
        ("units_not_arrived", "warehouse"),
        ("unmapped_reason", "data"),
    ]
    mismatch = Return.objects.get(order_ref="1023")
    assert open_cases(mismatch.associated_ref) == [
        ("units_not_arrived", "warehouse"),
        ("value_mismatch", "finance"),
    ]
    assert mismatch.exceptions.get(kind="value_mismatch").details["difference"] == "-2.00"
    cancelled = Return.objects.get(order_ref="1024")
    assert cancelled.state == "cancelled" and not cancelled.postings.exists()


def test_swap(live_server, workspace):
    replay(live_server, workspace, "swap")
    assert posting("SWAP-40012-X").payload["Items"][0]["SKU"] == "HF-DRS-WRP-SAG-12"
    assert items("SWAP-40012") == [("HF-DRS-WRP-SAG-10", 1, "3", Decimal("89.00"))]
    assert posting("SWAP-40012").payload["ExchangeItems"] == []
    assert not Posting.objects.filter(associated_ref="SWAP-40013-X").exists()
    assert open_cases("SWAP-40013") == [("exchange_unavailable", "cx")] * 3
    assert items("SWAP-40014") == [
        ("HF-ACC-SCF-LAM-GRY", 1, "3", Decimal("35.00")),
        ("HF-KID-PDL-YEL-0506", 1, "3", Decimal("32.00")),
    ]
    liability = StoreCreditLiability.objects.get()
    assert (liability.reference, liability.amount) == ("HFC-7H3K-9QPX", Decimal("67.00"))
    assert Return.objects.get(external_id="40015").state == "cancelled"


def test_rebound(live_server, workspace):
    replay(live_server, workspace, "rebound")
    assert items("RB-884512") == [
        ("HF-KNT-MCR-OAT-M", 1, "3", Decimal("59.00")),
        ("HF-FTW-CHL-BRN-08", 1, "3", Decimal("120.00")),
    ]
    assert posting("RB-884512").expected_credit == Decimal("179.00")
    assert posting("RB-884513").state == "held"
    assert open_cases("RB-884513") == [("unmapped_disposition", "warehouse")]
    assert open_cases("RB-884514") == [("unknown_customer", "cx")]
    assert items("RB-884515") == [("HF-FTW-CHL-BRN-09", 1, "3", Decimal("120.00"))]
