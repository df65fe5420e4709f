"""Finance's rules: ordered, first fit wins; tolerances and automatic acceptance."""

from datetime import date
from decimal import Decimal

import pytest

from reconciliation.models import Acceptance, CreditNote, ReconciliationRule
from reconciliation.services import differences, rules
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.tasks import apply_rules
from tests.concurrency import at_once
from tests.reconciliation.hub import MARCH

pytestmark = pytest.mark.django_db

URL = "/api/v1/reconciliation/rules/"
RB = "CN0010486"  # RB-884512's credit note: 5.00 short


def rule(cause, *, sequence=10, name=None, **fields) -> ReconciliationRule:
    return ReconciliationRule.objects.create(
        sequence=sequence, name=name or f"{cause} {sequence}", cause=cause, **fields
    )


def subjects(cause, period=MARCH, **filters) -> dict:
    return {
        row.credit_note or row.associated_ref: row
        for row in differences.rows(period, cause=cause, **filters)
    }


# Which rule decides ----------------------------------------------------------------------


def test_the_first_fitting_rule_by_sequence_decides(hub):
    generic = rule(C.CREDIT_NOTE_DIFFERS, sequence=20, tolerance=Decimal("10.00"))
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)  # 5.00 is within 10.00
    specific = rule(
        C.CREDIT_NOTE_DIFFERS, sequence=10, platform="rebound", tolerance=Decimal("1.00")
    )
    row = subjects(C.CREDIT_NOTE_DIFFERS)[RB]
    assert row.tolerance == Decimal("1.00")
    assert rules.resolve(C.CREDIT_NOTE_DIFFERS, "rebound", "GBP") == specific
    assert rules.resolve(C.CREDIT_NOTE_DIFFERS, "loop", "GBP") == generic
    # The same sequence: the older rule first.
    specific.sequence = 20
    specific.save()
    assert rules.resolve(C.CREDIT_NOTE_DIFFERS, "rebound", "GBP") == generic
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)


def test_inactive_and_unfitting_rules_are_ignored(hub):
    rule(C.CREDIT_NOTE_DIFFERS, sequence=1, tolerance=Decimal("10.00"), active=False)
    rule(C.CREDIT_NOTE_DIFFERS, sequence=2, tolerance=Decimal("10.00"), currency="EUR")
    rule(C.CREDIT_NOTE_DIFFERS, sequence=3, tolerance=Decimal("10.00"), platform="loop")
    rule(C.REFUND_DIFFERS, sequence=4, tolerance=Decimal("10.00"))
    row = subjects(C.CREDIT_NOTE_DIFFERS)[RB]
    assert row.tolerance == Decimal("0.01")  # the hub's
    assert rules.resolve(C.CREDIT_NOTE_DIFFERS, "rebound", "GBP") is None
    rule(C.CREDIT_NOTE_DIFFERS, sequence=5, tolerance=Decimal("10.00"), currency="GBP")
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)


def test_a_rule_with_no_tolerance_decides_for_the_fallback(hub):
    """The first fitting rule decides even when it leaves the tolerance blank."""
    rule(C.CREDIT_NOTE_DIFFERS, sequence=1, platform="rebound", auto_accept_up_to=Decimal("1"))
    rule(C.CREDIT_NOTE_DIFFERS, sequence=2, tolerance=Decimal("10.00"))
    assert subjects(C.CREDIT_NOTE_DIFFERS)[RB].tolerance == Decimal("0.01")
    rebound = hub.connections["rebound"]
    rebound.value_tolerance = Decimal("6.00")
    rebound.save()
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)


def test_a_tolerance_moves_a_difference_in_and_out(hub):
    hr = "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5"
    assert hr not in subjects(C.REFUND_DIFFERS)  # -0.01, within the hub's 0.01
    zero = rule(C.REFUND_DIFFERS, platform="happy-returns", tolerance=Decimal("0.00"))
    assert subjects(C.REFUND_DIFFERS)[hr].amount == Decimal("-0.01")
    loop = rule(C.REFUND_DIFFERS, platform="loop", tolerance=Decimal("22.35"))
    assert "LOOP-5004" not in subjects(C.REFUND_DIFFERS)  # exactly the tolerance: none
    loop.tolerance = Decimal("22.34")
    loop.save()
    assert "LOOP-5004" in subjects(C.REFUND_DIFFERS)
    zero.delete()
    assert hr not in subjects(C.REFUND_DIFFERS)
    # Totals follow the rows.
    loop.tolerance = Decimal("50.00")
    loop.save()
    totals = {t.platform: t for t in differences.totals(MARCH)}
    assert totals["loop"].cause(C.REFUND_DIFFERS).count == 0


def test_rules_keep_one_query_per_cause(hub, django_assert_max_num_queries):
    rule(C.REFUND_DIFFERS, tolerance=Decimal("0.00"))
    rule(C.CREDIT_NOTE_DIFFERS, platform="rebound", tolerance=Decimal("1.00"))
    rule(C.RAISED_BY_HAND, auto_accept_up_to=Decimal("20.00"))
    rules.apply_auto_accept()
    with django_assert_max_num_queries(len(C)):
        differences.rows(MARCH, state="all")
    with django_assert_max_num_queries(len(C) + len(differences.FIGURES)):
        differences.totals(MARCH)


# Automatic acceptance -----------------------------------------------------------------


def test_auto_accept_under_the_threshold(hub):
    rule(C.CREDIT_NOTE_DIFFERS, name="ReBound short notes", auto_accept_up_to=Decimal("4.99"))
    assert rules.apply_auto_accept() == 0
    limit = rule(
        C.POSTED_NOT_CONFIRMED, platform="loop", name="Small loop", auto_accept_up_to=Decimal("60")
    )
    ReconciliationRule.objects.filter(cause=C.CREDIT_NOTE_DIFFERS).update(
        auto_accept_up_to=Decimal("5.00")
    )
    assert apply_rules() == 2  # RB's -5.00 and LOOP-5002's 59.00; not LOOP-5004's 126.65
    assert rules.apply_auto_accept() == 0  # twice: the same result
    assert Acceptance.objects.count() == 2
    accepted = {
        row.credit_note or row.associated_ref: row
        for row in differences.rows(MARCH, state="accepted")
    }
    assert set(accepted) == {RB, "LOOP-5002"}
    assert accepted[RB].accepted_by == "rule: ReBound short notes"
    assert accepted["LOOP-5002"].accepted_by == "rule: Small loop"
    assert Acceptance.objects.get(object_id=accepted["LOOP-5002"].posting_id).rule == limit
    open_keys = {row.key for row in differences.rows(MARCH)}
    assert accepted[RB].key not in open_keys
    assert "LOOP-5004" in subjects(C.POSTED_NOT_CONFIRMED)


def test_the_first_fitting_rule_decides_auto_acceptance_too(hub):
    rule(C.CREDIT_NOTE_DIFFERS, sequence=1, platform="rebound", tolerance=Decimal("0.01"))
    rule(C.CREDIT_NOTE_DIFFERS, sequence=2, auto_accept_up_to=Decimal("100"))
    assert rules.apply_auto_accept() == 0
    rule(C.CREDIT_NOTE_DIFFERS, sequence=0, platform="rebound", auto_accept_up_to=Decimal("5"))
    assert rules.apply_auto_accept() == 1


def test_a_moved_amount_is_open_again_and_accepted_anew(hub):
    rule(C.CREDIT_NOTE_DIFFERS, auto_accept_up_to=Decimal("10.00"))
    assert rules.apply_auto_accept() == 1
    note = CreditNote.objects.get(code=RB)
    CreditNote.objects.filter(pk=note.pk).update(difference=Decimal("-6.00"))
    assert subjects(C.CREDIT_NOTE_DIFFERS)[RB].amount == Decimal("-6.00")  # open again
    assert rules.apply_auto_accept() == 1
    (acceptance,) = Acceptance.objects.all()
    assert acceptance.amount == Decimal("-6.00")
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)


def test_auto_accept_makes_a_fixed_number_of_queries(db, django_assert_max_num_queries):
    def notes(prefix, n):
        CreditNote.objects.bulk_create(
            CreditNote(
                code=f"{prefix}{i}",
                issued_on=date(2025, 3, 1),
                net=Decimal("1.00"),
                tax=Decimal("0.00"),
                gross=Decimal("1.00"),
                currency="GBP",
            )
            for i in range(n)
        )

    rule(C.RAISED_BY_HAND, auto_accept_up_to=Decimal("1.00"))
    notes("A", 3)
    with django_assert_max_num_queries(10) as small:
        assert rules.apply_auto_accept() == 3
    notes("B", 300)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert rules.apply_auto_accept() == 300


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_accept_each_row_once(transactional_db):
    CreditNote.objects.bulk_create(
        CreditNote(
            code=f"CN-{i}",
            issued_on=date(2025, 3, 1),
            net=Decimal("2.00"),
            tax=Decimal("0.00"),
            gross=Decimal("2.00"),
            currency="GBP",
        )
        for i in range(200)
    )
    rule(C.RAISED_BY_HAND, auto_accept_up_to=Decimal("5.00"))
    made, errors = at_once(rules.apply_auto_accept, timeout=None)
    assert not errors
    assert Acceptance.objects.count() == 200
    assert sum(made) == 200
    assert len(set(Acceptance.objects.values_list("object_id", flat=True))) == 200


# The API ----------------------------------------------------------------------------------


def test_finance_edits_its_rules(hub, api_client_for, role_users):
    client = api_client_for("finance")
    body = {
        "sequence": 5,
        "name": "ReBound rounding",
        "cause": "credit_note_differs",
        "platform": "rebound",
        "currency": "GBP",
        "tolerance": "5.00",
        "auto_accept_up_to": None,
    }
    created = client.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    made = created.json()
    assert made["updated_by"] == "finance-user"
    assert made["active"] is True
    assert RB not in subjects(C.CREDIT_NOTE_DIFFERS)
    rule(C.REFUND_DIFFERS, sequence=1, tolerance=Decimal("1.00"))
    listed = client.get(URL).json()["results"]
    assert [r["sequence"] for r in listed] == [1, 5]
    assert [r["name"] for r in client.get(URL, {"platform": "rebound"}).json()["results"]] == [
        "ReBound rounding"
    ]
    assert len(client.get(URL, {"cause": "refund_differs"}).json()["results"]) == 1
    assert client.get(URL, {"active": "false"}).json()["results"] == []
    assert len(client.get(URL, {"currency": "GBP"}).json()["results"]) == 1
    changed = client.patch(f"{URL}{made['id']}/", {"active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert RB in subjects(C.CREDIT_NOTE_DIFFERS)
    assert client.delete(f"{URL}{made['id']}/").status_code == 204
    assert ReconciliationRule.history.filter(id=made["id"]).count() == 3  # made, changed, gone


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tolerance": "-1.00"}, "tolerance"),
        ({"auto_accept_up_to": "-0.01"}, "auto_accept_up_to"),
        ({"currency": "gbp"}, "currency"),
        ({"cause": "nonsense"}, "cause"),
        ({"platform": "nowhere"}, "platform"),
        ({"cause": "posted_not_confirmed", "tolerance": "1.00"}, "tolerance"),
        ({"active": "0"}, "active"),
        ({"tolerance": 1}, "tolerance"),
        ({"name": ""}, "name"),
    ],
)
def test_a_rule_that_cannot_be_is_refused_saying_why(api_client_for, change, field):
    body = {"name": "A rule", "cause": "credit_note_differs", "tolerance": "1.00", **change}
    response = api_client_for("finance").post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ReconciliationRule.objects.exists()


def test_the_tolerance_error_says_which_causes_have_one(api_client_for):
    body = {"name": "x", "cause": "raised_by_hand", "tolerance": "1.00"}
    message = api_client_for("finance").post(URL, body, format="json").json()["tolerance"][0]
    assert "refund_differs" in message and "credit_note_differs" in message


@pytest.mark.parametrize("role", ["warehouse", "cx", "data", "nobody"])
def test_only_finance_and_admin_edit_rules(api_client_for, role):
    body = {"name": "x", "cause": "raised_by_hand", "auto_accept_up_to": "1.00"}
    assert api_client_for(role).get(URL).status_code == 403
    assert api_client_for(role).post(URL, body, format="json").status_code == 403
    assert api_client_for("admin").post(URL, body, format="json").status_code == 201


# The admin --------------------------------------------------------------------------------


def test_finance_edits_rules_and_reads_acceptances_in_the_admin(hub, client, role_users):
    finance = role_users["finance"]
    finance.is_staff = True
    finance.save()
    client.force_login(finance)
    made = rule(C.RAISED_BY_HAND, auto_accept_up_to=Decimal("20.00"))
    page = client.get("/admin/reconciliation/reconciliationrule/")
    assert page.status_code == 200
    assert 'name="form-0-auto_accept_up_to"' in page.content.decode()
    edit = client.post(
        f"/admin/reconciliation/reconciliationrule/{made.pk}/change/",
        {
            "sequence": 3,
            "name": "Hand-raised",
            "cause": "raised_by_hand",
            "auto_accept_up_to": "20.00",
            "active": "on",
        },
    )
    assert edit.status_code == 302
    made.refresh_from_db()
    assert (made.sequence, made.updated_by) == (3, finance)
    assert (
        client.get(f"/admin/reconciliation/reconciliationrule/{made.pk}/history/").status_code
        == 200
    )
    rules.apply_auto_accept()
    acceptance = Acceptance.objects.get()
    assert client.get("/admin/reconciliation/acceptance/").status_code == 200
    assert (
        client.get(f"/admin/reconciliation/acceptance/{acceptance.pk}/change/").status_code == 200
    )
    assert client.get("/admin/reconciliation/acceptance/add/").status_code == 403
    deleted = client.post(
        f"/admin/reconciliation/acceptance/{acceptance.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not Acceptance.objects.exists()  # reopened


def test_the_admin_refuses_a_rule_the_api_and_screen_refuse(client, role_users):
    """One check (ReconciliationRule.clean) for the admin, the /finance/ form and the API."""
    client.force_login(role_users["admin"])
    page = client.post(
        "/admin/reconciliation/reconciliationrule/add/",
        {"sequence": 1, "name": "Timing", "cause": "refunded_not_graded", "tolerance": "1.00"},
    )
    assert page.status_code == 200
    assert "applies only to value differences" in page.content.decode()
    assert not ReconciliationRule.objects.exists()
