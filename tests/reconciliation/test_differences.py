"""Reconciliation for a period: each difference's cause, amount and owner, and totals that foot."""

from base64 import b64encode
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from reconciliation.services import differences
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.services.differences import Period, PeriodInvalid
from tests.reconciliation.hub import MARCH, TODAY

pytestmark = pytest.mark.django_db

URL = "/api/v1/reconciliation/differences/"


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
    assert differs == {
        "cause": "credit_note_differs",
        "count": 1,
        "amount": "-5.00",
        "accepted_count": 0,
        "accepted_amount": "0.00",
    }
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


# A day as a period, and the period day by day ----------------------------------------


def test_a_day_is_a_period():
    day = Period.for_day(date(2025, 3, 11))
    assert (day.first, day.after, day.kind, str(day)) == (
        date(2025, 3, 11),
        date(2025, 3, 12),
        "day",
        "2025-03-11",
    )
    assert day.label == "11 March 2025"
    assert (MARCH.kind, str(MARCH), MARCH.label) == ("month", "2025-03", "March 2025")
    assert Period.parse_day("2025-03-11") == day
    assert len(MARCH.each_day()) == 31
    assert Period.parse("2025-12").after == date(2026, 1, 1)


@pytest.mark.parametrize("text", ["2025-02-30", "2025-3-1", "2025-03", "", "11/03/2025"])
def test_a_bad_day_is_refused(text):
    with pytest.raises(PeriodInvalid):
        Period.parse_day(text)


def test_the_days_of_a_month_hold_its_rows(hub):
    month = {row.key for row in differences.rows(MARCH)}
    by_day = [
        {row.key for row in differences.rows(Period.for_day(day))} for day in MARCH.each_day()
    ]
    assert set().union(*by_day) == month
    assert sum(len(keys) for keys in by_day) == len(month)
    (rb,) = differences.rows(Period.for_day(date(2025, 3, 11)), cause=C.CREDIT_NOTE_DIFFERS)
    assert rb.credit_note == "CN0010486"
    eleventh = differences.totals(Period.for_day(date(2025, 3, 11)))
    assert {t.platform: t.confirmed for t in eleventh}["rebound"] == Decimal("174.00")


def test_daily_points_sum_to_the_totals(hub, django_assert_max_num_queries):
    with django_assert_max_num_queries(len(C) + 1):
        points = differences.daily(MARCH)
    assert [p.day for p in points] == MARCH.each_day()
    totals = differences.totals(MARCH)
    causes = [cause for total in totals for cause in total.causes]
    assert sum(p.open_count for p in points) == sum(c.count for c in causes) == 9
    assert sum(p.open_amount for p in points) == sum(c.amount for c in causes)
    assert sum(p.matched_count for p in points) == 8  # the matched credit notes
    assert sum(p.matched_amount for p in points) == sum(t.confirmed for t in totals)
    for point in points:
        rows = differences.rows(Period.for_day(point.day))
        assert point.open_count == len(rows), point.day
        assert point.open_amount == sum((r.amount for r in rows), Decimal("0.00"))
    # A day or a year: the same number of queries.
    with django_assert_max_num_queries(len(C) + 1):
        assert len(differences.daily(Period.for_day(date(2025, 3, 11)))) == 1
    with django_assert_max_num_queries(len(C) + 1):
        assert len(differences.daily(Period(date(2025, 1, 1), date(2026, 1, 1)))) == 365


def test_daily_filters_by_platform_and_currency(hub):
    rebound = differences.daily(MARCH, platform="rebound")
    assert sum(p.open_count for p in rebound) == 1
    assert sum(p.matched_count for p in rebound) == 2
    assert not any(
        p.open_count or p.matched_count for p in differences.daily(MARCH, currency="EUR")
    )


def test_rows_and_totals_filter_by_currency(hub):
    assert len(differences.rows(MARCH, currency="GBP")) == 9
    assert differences.rows(MARCH, currency="EUR") == []
    assert differences.totals(MARCH, currency="EUR") == []
    assert {t.currency for t in differences.totals(MARCH, currency="GBP")} == {"GBP"}
    client_rows = differences.rows(MARCH, currency="GBP", platform="rebound")
    assert [r.credit_note for r in client_rows] == ["CN0010486"]


def test_the_api_filters_by_currency_and_state(hub, api_client_for):
    client = api_client_for("finance")
    assert len(client.get(URL, {"period": "2025-03", "currency": "GBP"}).json()["results"]) == 9
    assert client.get(URL, {"period": "2025-03", "currency": "EUR"}).json()["results"] == []
    assert client.get(URL, {"currency": "gbp"}).status_code == 400
    assert client.get(URL, {"state": "maybe"}).status_code == 400
    assert client.get(URL, {"period": "2025-03", "state": "accepted"}).json()["results"] == []
    assert len(client.get(URL, {"period": "2025-03", "state": "all"}).json()["results"]) == 9
    period = client.get("/api/v1/reconciliation/periods/2025-03/", {"currency": "EUR"})
    assert period.json()["totals"] == []
    assert (
        client.get("/api/v1/reconciliation/periods/2025-03/", {"currency": "x"}).status_code == 400
    )
