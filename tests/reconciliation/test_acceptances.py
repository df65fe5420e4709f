"""Accepting (writing off) a difference, reopening it, and a moved amount reopening it."""

from decimal import Decimal

import pytest

from reconciliation.models import Acceptance
from reconciliation.services import acceptances, differences
from reconciliation.services.acceptances import NotAcceptable
from reconciliation.services.differences import DifferenceCause as C
from returns_hub.models import Posting
from tests.reconciliation.hub import MARCH

pytestmark = pytest.mark.django_db

URL = "/api/v1/reconciliation/acceptances/"
DIFFERENCES = "/api/v1/reconciliation/differences/"


def key_of(cause, subject) -> str:
    (row,) = [
        row
        for row in differences.rows(MARCH, cause=cause, state="all")
        if subject in (row.credit_note, row.associated_ref)
    ]
    return row.key


def test_accept_and_reopen(hub, role_users):
    finance = role_users["finance"]
    key = key_of(C.CREDIT_NOTE_DIFFERS, "CN0010486")
    acceptance = acceptances.accept(key, by=finance, note="ReBound's restocking fee, agreed")
    assert (acceptance.key, acceptance.amount, acceptance.platform, acceptance.currency) == (
        key,
        Decimal("-5.00"),
        "rebound",
        "GBP",
    )
    assert (acceptance.accepted_by, acceptance.accepted_by_user) == ("finance-user", finance)
    assert acceptance.rule is None
    assert key not in {row.key for row in differences.rows(MARCH)}
    (row,) = differences.rows(MARCH, state="accepted")
    assert (row.key, row.accepted, row.accepted_by, row.accepted_note) == (
        key,
        True,
        "finance-user",
        "ReBound's restocking fee, agreed",
    )
    assert len(differences.rows(MARCH, state="all")) == 9
    assert acceptances.reopen(acceptance, by=finance) is True
    assert acceptances.reopen(acceptance, by=finance) is False
    (row,) = differences.rows(MARCH, cause=C.CREDIT_NOTE_DIFFERS)
    assert (row.key, row.accepted, row.accepted_by) == (key, False, "")


def test_totals_count_open_and_accepted_apart(hub, role_users):
    key = key_of(C.POSTED_NOT_CONFIRMED, "LOOP-5002")
    acceptances.accept(key, by=role_users["finance"], note="Exchange, no credit note due")
    loop = {t.platform: t for t in differences.totals(MARCH)}["loop"].cause(C.POSTED_NOT_CONFIRMED)
    assert (loop.count, loop.amount, loop.accepted_count, loop.accepted_amount) == (
        1,
        Decimal("126.65"),
        1,
        Decimal("59.00"),
    )
    points = differences.daily(MARCH)
    assert sum(p.open_count for p in points) == 8
    assert sum(p.accepted_count for p in points) == 1
    assert sum(p.matched_count for p in points) == 8 + 1
    (day,) = [p for p in points if p.accepted_count]
    assert (day.day.day, day.accepted_amount) == (20, Decimal("59.00"))


def test_a_moved_amount_opens_the_difference_again(hub, role_users):
    finance = role_users["finance"]
    key = key_of(C.REFUND_DIFFERS, "LOOP-5004")
    acceptances.accept(key, by=finance, note="Goodwill refund")
    assert differences.rows(MARCH, cause=C.REFUND_DIFFERS) == []
    ret = Posting.objects.get(associated_ref="LOOP-5004").return_ref
    ret.refunded_amount = Decimal("150.00")
    ret.save()
    (row,) = differences.rows(MARCH, cause=C.REFUND_DIFFERS)
    assert (row.key, row.amount, row.accepted) == (key, Decimal("23.35"), False)
    assert differences.rows(MARCH, cause=C.REFUND_DIFFERS, state="accepted") == []
    loop = {t.platform: t for t in differences.totals(MARCH)}["loop"].cause(C.REFUND_DIFFERS)
    assert (loop.count, loop.accepted_count) == (1, 0)
    again = acceptances.accept(key, by=finance, note="Goodwill refund, and the postage")
    assert again.amount == Decimal("23.35")
    assert Acceptance.objects.count() == 1


def test_what_cannot_be_accepted_says_why(hub, role_users):
    finance = role_users["finance"]
    key = key_of(C.RAISED_BY_HAND, "CN0010488")
    with pytest.raises(NotAcceptable, match="note"):
        acceptances.accept(key, by=finance, note="  ")
    acceptances.accept(key, by=finance, note="Goodwill credit raised in Khaos")
    with pytest.raises(NotAcceptable, match="already accepted"):
        acceptances.accept(key, by=finance, note="Again")
    for bad in ["", "nonsense", "raised_by_hand:", "raised_by_hand:x", "nope:1", "1:2"]:
        with pytest.raises(NotAcceptable, match="not a difference's key"):
            acceptances.accept(bad, by=finance, note="x")
    matched = Posting.objects.get(associated_ref="LOOP-5001")  # confirmed: no difference
    with pytest.raises(NotAcceptable, match="not a difference now"):
        acceptances.accept(f"posted_not_confirmed:{matched.pk}", by=finance, note="x")
    with pytest.raises(NotAcceptable, match="not a difference now"):
        acceptances.accept("credit_note_differs:999999", by=finance, note="x")


def test_a_task_may_accept_without_a_note(hub):
    key = key_of(C.STORE_CREDIT_OUTSTANDING, "SWAP-40014")
    acceptance = acceptances.accept(key, by="month-end script", note="")
    assert (acceptance.accepted_by, acceptance.accepted_by_user) == ("month-end script", None)


# The API ----------------------------------------------------------------------------------


def test_finance_accepts_and_reopens_through_the_api(hub, api_client_for):
    client = api_client_for("finance")
    key = key_of(C.CREDIT_NOTE_DIFFERS, "CN0010486")
    made = client.post(URL, {"key": key, "note": "Restocking fee"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["key"], body["amount"], body["accepted_by"], body["accepted_by_user"]) == (
        key,
        "-5.00",
        "finance-user",
        "finance-user",
    )
    again = client.post(URL, {"key": key, "note": "Again"}, format="json")
    assert again.status_code == 400
    assert "already accepted" in again.json()["key"][0]
    no_note = client.post(URL, {"key": key}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()
    unknown = client.post(URL, {"key": "raised_by_hand:999999", "note": "x"}, format="json")
    assert unknown.status_code == 400 and "not a difference now" in unknown.json()["key"][0]

    accepted = client.get(DIFFERENCES, {"period": "2025-03", "state": "accepted"}).json()
    assert [(r["key"], r["accepted_by"]) for r in accepted["results"]] == [(key, "finance-user")]
    period = client.get("/api/v1/reconciliation/periods/2025-03/").json()
    rebound = next(t for t in period["totals"] if t["platform"] == "rebound")
    differs = next(c for c in rebound["causes"] if c["cause"] == "credit_note_differs")
    assert (differs["count"], differs["accepted_count"], differs["accepted_amount"]) == (
        0,
        1,
        "-5.00",
    )

    listed = client.get(URL, {"cause": "credit_note_differs"}).json()["results"]
    assert [a["key"] for a in listed] == [key]
    assert client.get(URL, {"cause": "raised_by_hand"}).json()["results"] == []
    month = body["accepted_at"][:7]
    assert len(client.get(URL, {"period": month}).json()["results"]) == 1
    assert client.get(URL, {"period": "2001-01"}).json()["results"] == []
    assert client.get(URL, {"period": "2025-13"}).status_code == 400
    assert client.get(URL, {"by_rule": "true"}).json()["results"] == []

    assert client.delete(f"{URL}{body['id']}/").status_code == 204
    assert not Acceptance.objects.exists()
    open_rows = client.get(DIFFERENCES, {"cause": "credit_note_differs"}).json()["results"]
    assert [r["key"] for r in open_rows] == [key]


@pytest.mark.parametrize("role", ["warehouse", "cx", "data", "nobody"])
def test_only_finance_and_admin_accept(hub, api_client_for, role):
    key = key_of(C.RAISED_BY_HAND, "CN0010488")
    client = api_client_for(role)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"key": key, "note": "x"}, format="json").status_code == 403
    made = api_client_for("admin").post(URL, {"key": key, "note": "x"}, format="json")
    assert made.status_code == 201
    assert client.delete(f"{URL}{made.json()['id']}/").status_code == 403
