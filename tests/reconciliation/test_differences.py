"""Reconciliation for a period: each difference's cause, amount and owner, and totals that foot."""

from base64 import b64encode
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from reconciliation.importers import import_credit_notes
from reconciliation.services import differences
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.services.differences import Period, PeriodInvalid
from returns_hub.choices import (
    ExceptionKind,
    ExceptionStatus,
    LiabilityKind,
    MoneyState,
    PostingState,
    ReturnState,
)
from returns_hub.models import ExceptionCase, StoreCreditLiability
from tests import factories
from tests.reconciliation.conftest import EXPORT

pytestmark = pytest.mark.django_db

MARCH = Period.parse("2025-03")
TODAY = date(2025, 4, 10)
URL = "/api/v1/reconciliation/differences/"


def at(day: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, 12, tzinfo=UTC)


class Hub:
    """Connections per platform, and returns with their postings."""

    def __init__(self):
        self.connections = {}

    def connection(self, platform: str):
        if platform not in self.connections:
            self.connections[platform] = factories.PlatformConnectionFactory(
                platform=platform, slug=f"hf-{platform}"
            )
        return self.connections[platform]

    def ret(self, platform: str, ref: str, **fields):
        return factories.ReturnFactory(
            connection=self.connection(platform),
            associated_ref=ref,
            external_id=ref.split("-", 1)[1],
            **fields,
        )

    def posting(self, platform, ref, expected, *, ready=1, state=PostingState.DOWNLOADED, **money):
        ret = self.ret(platform, ref, money_state=MoneyState.POSTED, **money)
        return factories.PostingFactory(
            return_ref=ret,
            channel=self.connection(platform).khaos_channel,
            state=state,
            expected_credit=Decimal(expected),
            ready_at=at(ready) if state != PostingState.HELD else None,
        )


def refund(amount: str, day: int) -> dict:
    return {"refunded_amount": Decimal(amount), "refunded_at": at(day)}


@pytest.fixture
def hub(db, role_users):
    """March 2025 as the fixtures tell it, one of each cause, and a timing row in April."""
    hub = Hub()
    hub.posting("loop", "LOOP-5003", "40.00", ready=3, **refund("40.00", 3))
    hub.posting("loop", "LOOP-5001", "59.98", ready=4, **refund("59.98", 4))
    hub.posting("swap", "SWAP-40012", "89.00", ready=5, exchange_amount=Decimal("89.00"))
    swap_credit = hub.posting("swap", "SWAP-40014", "67.00", ready=6)
    swap_credit.return_ref.store_credit_amount = Decimal("67.00")
    swap_credit.return_ref.save()
    StoreCreditLiability.objects.create(
        return_ref=swap_credit.return_ref,
        kind=LiabilityKind.STORE_CREDIT,
        reference="HFC-7H3K-9QPX",
        amount=Decimal("67.00"),
        currency="GBP",
        issued_at=at(9),
    )
    hub.posting(
        "happy-returns",
        "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5",
        "142.00",
        ready=7,
        **refund("141.99", 2),
    )
    hub.posting("rebound", "RB-884512", "179.00", ready=8)
    hub.posting("reveni", "REV-RVN-20250304-0007", "113.00", ready=4, **refund("113.00", 4))
    hub.posting("rebound", "RB-884515", "120.00", ready=9)
    # Posted, no credit note yet.
    hub.posting("loop", "LOOP-5002", "59.00", ready=20, exchange_amount=Decimal("59.00"))
    # Approved value mismatch: posted at the expected credit, refunded more (and no note).
    hub.posting("loop", "LOOP-5004", "126.65", state=PostingState.READY, **refund("149.00", 14))
    # Refunded at first scan, goods not graded: a timing difference.
    hub.ret(
        "happy-returns",
        "HR-timing-1014",
        money_state=MoneyState.REFUNDED,
        state=ReturnState.IN_TRANSIT,
        **refund("141.99", 25),
    )
    hub.ret(
        "happy-returns",
        "HR-timing-1015",
        money_state=MoneyState.REFUNDED,
        **{"refunded_amount": Decimal("20.00"), "refunded_at": at(2, month=4)},
    )
    # Refunded, then the return was cancelled: no goods and no posting will come.
    hub.ret(
        "reveni",
        "REV-RVN-cancelled-1025",
        state=ReturnState.CANCELLED,
        money_state=MoneyState.REFUNDED,
        **refund("30.00", 5),
    )
    # A value mismatch finance ignored: refunded by bank transfer outside the hub.
    held = hub.posting(
        "reveni", "REV-RVN-1023", "50.15", state=PostingState.HELD, **refund("48.15", 6)
    )
    ExceptionCase.objects.create(
        kind=ExceptionKind.VALUE_MISMATCH,
        cause_key="value:48.15",
        return_ref=held.return_ref,
        posting=held,
        message="Mismatch",
        status=ExceptionStatus.IGNORED,
        resolution="Refunded by bank transfer",
        resolved_by=role_users["finance"],
        resolved_at=at(18),
    )
    with EXPORT.open("rb") as stream:
        result = import_credit_notes(stream, file_name="credit_note_export.csv")
    assert result.as_dict()["matched"] == 8
    return hub


def by_subject(rows):
    return {(row.cause, row.credit_note or row.associated_ref): row for row in rows}


def test_each_cause_with_its_amount_and_owner(hub):
    found = {
        key: (row.amount, row.owner, row.platform)
        for key, row in by_subject(differences.rows(MARCH, today=TODAY)).items()
    }
    assert found == {
        (C.REFUNDED_NOT_GRADED, "HR-timing-1014"): (
            Decimal("141.99"),
            "warehouse",
            "happy-returns",
        ),
        (C.REFUND_WITHOUT_RETURN, "REV-RVN-cancelled-1025"): (
            Decimal("30.00"),
            "finance",
            "reveni",
        ),
        (C.POSTED_NOT_CONFIRMED, "LOOP-5002"): (Decimal("59.00"), "finance", "loop"),
        (C.POSTED_NOT_CONFIRMED, "LOOP-5004"): (Decimal("126.65"), "finance", "loop"),
        (C.REFUND_DIFFERS, "LOOP-5004"): (Decimal("22.35"), "finance", "loop"),
        (C.CREDIT_NOTE_DIFFERS, "CN0010486"): (Decimal("-5.00"), "finance", "rebound"),
        (C.RAISED_BY_HAND, "CN0010488"): (Decimal("15.00"), "finance", None),
        (C.STORE_CREDIT_OUTSTANDING, "SWAP-40014"): (Decimal("67.00"), "finance", "swap"),
        (C.HANDLED_OUTSIDE, "REV-RVN-1023"): (Decimal("48.15"), "finance", "reveni"),
    }


def test_rb_884512_is_a_credit_note_difference_and_the_hand_raised_note_is_unmatched(hub):
    rows = by_subject(differences.rows(MARCH, today=TODAY))
    rb = rows[(C.CREDIT_NOTE_DIFFERS, "CN0010486")]
    assert (rb.associated_ref, rb.amount, rb.expected_credit) == (
        "RB-884512",
        Decimal("-5.00"),
        Decimal("179.00"),
    )
    assert rb.on == date(2025, 3, 11)
    by_hand = rows[(C.RAISED_BY_HAND, "CN0010488")]
    assert by_hand.associated_ref == ""
    assert by_hand.return_id is None
    assert "by hand" in by_hand.detail
    # HR's -0.01 is within the tolerance: neither a refund nor a credit note difference.
    assert not [key for key in rows if key[1].startswith("HR-3f6c")]


def test_the_refund_before_inspection_is_timing_with_its_age(hub):
    (row,) = differences.rows(MARCH, cause=C.REFUNDED_NOT_GRADED, today=TODAY)
    assert row.on == date(2025, 3, 25)
    assert row.age_days == 16
    assert row.detail.startswith("Refunded 141.99 GBP")


def test_handled_outside_says_who_and_why(hub):
    (row,) = differences.rows(MARCH, cause=C.HANDLED_OUTSIDE, today=TODAY)
    assert "finance-user" in row.detail
    assert "Refunded by bank transfer" in row.detail
    assert row.exception_id is not None


def test_the_connection_tolerance_decides(hub):
    hr = hub.connections["happy-returns"]
    hr.value_tolerance = Decimal("0.00")
    hr.save()
    rows = by_subject(differences.rows(MARCH, cause=C.REFUND_DIFFERS))
    assert rows[(C.REFUND_DIFFERS, "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5")].amount == Decimal(
        "-0.01"
    )
    rebound = hub.connections["rebound"]
    rebound.value_tolerance = Decimal("5.00")
    rebound.save()
    assert not differences.rows(MARCH, cause=C.CREDIT_NOTE_DIFFERS)


def test_the_period_totals_foot_with_the_rows(hub):
    totals = differences.totals(MARCH)
    rows = differences.rows(MARCH)
    summed = defaultdict(lambda: [0, Decimal("0.00")])
    for row in rows:
        summed[(row.platform, row.currency, row.cause)][0] += 1
        summed[(row.platform, row.currency, row.cause)][1] += row.amount
    for total in totals:
        for cause in total.causes:
            expected = summed.pop((total.platform, total.currency, cause.cause), [0, Decimal(0)])
            assert [cause.count, cause.amount] == expected, (total.platform, cause.cause)
    assert not summed
    figures = {t.platform: t for t in totals}
    loop = figures["loop"]
    assert loop.platform_refunds == Decimal("248.98")  # 40.00 + 59.98 + 149.00
    assert loop.posted == Decimal("285.63")  # 40.00 + 59.98 + 59.00 + 126.65
    assert loop.confirmed == Decimal("99.98")
    assert figures["swap"].store_credit == Decimal("67.00")
    assert figures["rebound"].confirmed == Decimal("294.00")
    assert figures["happy-returns"].platform_refunds == Decimal("283.98")  # April excluded
    assert figures[None].cause(C.RAISED_BY_HAND).amount == Decimal("15.00")
    assert sum(t.confirmed for t in totals) == Decimal("804.98")  # the 8 matched notes


def test_filters(hub):
    assert {r.cause for r in differences.rows(MARCH, cause=C.POSTED_NOT_CONFIRMED)} == {
        C.POSTED_NOT_CONFIRMED
    }
    rebound = differences.rows(MARCH, platform="rebound")
    assert [(r.cause, r.credit_note) for r in rebound] == [(C.CREDIT_NOTE_DIFFERS, "CN0010486")]
    april = differences.rows(Period.parse("2025-04"))
    assert [(r.cause, r.associated_ref) for r in april] == [
        (C.REFUNDED_NOT_GRADED, "HR-timing-1015")
    ]
    assert len(differences.rows(None)) == len(differences.rows(MARCH)) + 1
    assert [t.platform for t in differences.totals(MARCH, platform="swap")] == ["swap"]


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "25-03", "2025-3", "", "abcd-ef"])
def test_a_bad_period_is_refused(text):
    with pytest.raises(PeriodInvalid):
        Period.parse(text)


def test_the_queries_are_bounded(hub, django_assert_max_num_queries):
    with django_assert_max_num_queries(len(C)):
        differences.rows(MARCH)
    with django_assert_max_num_queries(len(C) + len(differences.FIGURES)):
        differences.totals(MARCH)
    hub.posting("loop", "LOOP-9001", "10.00", ready=21)
    hub.posting("loop", "LOOP-9002", "10.00", ready=22)
    with django_assert_max_num_queries(len(C)):
        assert len(differences.rows(MARCH)) == 11


# The API -------------------------------------------------------------------------------


def test_the_period_endpoint(hub, api_client_for):
    response = api_client_for("finance").get("/api/v1/reconciliation/periods/2025-03/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == "2025-03"
    rebound = next(t for t in body["totals"] if t["platform"] == "rebound")
    assert rebound["confirmed"] == "294.00"
    differs = next(c for c in rebound["causes"] if c["cause"] == "credit_note_differs")
    assert differs == {"cause": "credit_note_differs", "count": 1, "amount": "-5.00"}
    manual = next(t for t in body["totals"] if t["platform"] is None)
    assert {c["cause"]: c["count"] for c in manual["causes"]}["raised_by_hand"] == 1


@pytest.mark.parametrize("period", ["2025-13", "2025-1", "march"])
def test_a_bad_period_is_400(hub, api_client_for, period):
    client = api_client_for("finance")
    response = client.get(f"/api/v1/reconciliation/periods/{period}/")
    assert response.status_code == 400
    assert "period" in response.json()
    assert client.get(URL, {"period": period}).status_code == 400


def test_the_differences_endpoint_filters(hub, api_client_for):
    client = api_client_for("finance")
    body = client.get(URL, {"period": "2025-03", "cause": "credit_note_differs"}).json()
    (row,) = body["results"]
    assert (row["credit_note"], row["associated_ref"], row["amount"], row["owner"]) == (
        "CN0010486",
        "RB-884512",
        "-5.00",
        "finance",
    )
    body = client.get(URL, {"period": "2025-03", "platform": "happy-returns"}).json()
    (row,) = body["results"]
    assert row["cause"] == "refunded_not_graded"
    assert row["owner"] == "warehouse"
    assert row["age_days"] == (timezone.localdate() - date(2025, 3, 25)).days
    assert client.get(URL, {"cause": "nonsense"}).status_code == 400
    assert client.get(URL, {"platform": "nonsense"}).status_code == 400
    assert len(client.get(URL, {"period": "", "cause": "", "platform": ""}).json()["results"]) == 10


def test_the_differences_pages_by_keyset(hub, api_client_for, django_assert_max_num_queries):
    client = api_client_for("finance")
    everything = [r["key"] for r in client.get(URL, {"period": "2025-03"}).json()["results"]]
    assert len(everything) == 9
    keys, url, pages = [], f"{URL}?period=2025-03&page_size=2", 0
    while url:
        with django_assert_max_num_queries(len(C) + 4):
            body = client.get(url).json()
        keys += [r["key"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert keys == everything
    assert pages == 5
    bad = b64encode(b"99:1").decode()
    assert client.get(URL, {"cursor": bad}).status_code == 404
    assert client.get(URL, {"cursor": "not base64!"}).status_code == 404
    assert client.get(URL, {"page_size": "0"}).status_code == 400


@pytest.mark.parametrize("role", ["warehouse", "cx", "data", "nobody"])
def test_only_finance_and_admin_see_reconciliation(hub, api_client_for, role):
    client = api_client_for(role)
    assert client.get(URL).status_code == 403
    assert client.get("/api/v1/reconciliation/periods/2025-03/").status_code == 403
    assert api_client_for("admin").get(URL).status_code == 200
