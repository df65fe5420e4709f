"""/exceptions/: the queue, one case, the actions on it and on several at once."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from connectors.loop.parser import parse_return
from returns_hub import fixes
from returns_hub.choices import EXCEPTION_OWNERS, ExceptionKind, ExceptionStatus, PostingState
from returns_hub.models import CustomerMapping, DispositionMapping, ExceptionCase, Return
from returns_hub.services import actions, ingest
from returns_hub.services.actions import ActionError
from tests import factories
from tests.conftest import fixture_json

pytestmark = pytest.mark.django_db

ROLES = ["finance", "warehouse", "cx", "data", "admin", "nobody"]
TEAMS = ["finance", "warehouse", "cx", "data"]
_keys = count()


def make_case(kind: str = ExceptionKind.UNKNOWN_SKU, *, age_days: int = 0, **fields):
    """A case of ``kind`` owned by its team, opened ``age_days`` ago."""
    fields.setdefault("owner", EXCEPTION_OWNERS[kind])
    fields.setdefault("message", f"{kind} for the test")
    case = factories.ExceptionCaseFactory(
        kind=kind, cause_key=f"{kind}:screen-test:{next(_keys)}", **fields
    )
    if age_days:
        ExceptionCase.objects.filter(pk=case.pk).update(
            created_at=timezone.now() - timedelta(days=age_days)
        )
        case.refresh_from_db()
    return case


def logged_in(client, role_users, role: str):
    client.force_login(role_users[role])
    return client


def shown_cases(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-case="(\d+)"', response.content.decode())]


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who may see and do what -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_team_sees_the_queue_and_a_case_and_nobody_else(client, role_users, role):
    case = make_case()
    logged_in(client, role_users, role)
    expected = 403 if role == "nobody" else 200
    assert client.get("/exceptions/").status_code == expected
    assert client.get(f"/exceptions/{case.pk}/").status_code == expected


def test_anyone_not_logged_in_is_sent_to_log_in(client):
    case = make_case()
    for url in ["/exceptions/", f"/exceptions/{case.pk}/", f"/exceptions/{case.pk}/resolve/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/exceptions/")
    response = client.post("/exceptions/bulk/", {"action": "assign", "case": [case.pk]})
    assert response["Location"].startswith("/accounts/login/")
    assert ExceptionCase.objects.get(pk=case.pk).assignee is None


ACTIONS = ["assign", "unassign", "resolve", "ignore", "retry"]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("data", 302),  # the owning team
        ("admin", 302),  # superusers act on every case
        ("finance", 403),
        ("warehouse", 403),
        ("cx", 403),
        ("nobody", 403),
    ],
)
def test_only_the_owning_team_and_superusers_act_on_a_case(
    client, role_users, action, role, status
):
    case = make_case(ExceptionKind.INVALID_PAYLOAD, return_ref=None)  # owned by data
    logged_in(client, role_users, role)
    response = client.post(f"/exceptions/{case.pk}/{action}/", {"note": "handled in Khaos"})
    assert response.status_code == status
    if status == 302:
        assert response["Location"] == f"/exceptions/{case.pk}/"
    else:
        assert ExceptionCase.objects.get(pk=case.pk).status == ExceptionStatus.OPEN
        assert ExceptionCase.objects.get(pk=case.pk).assignee is None


@pytest.mark.parametrize("action", [*ACTIONS, "approve-value"])
def test_actions_are_posts_only(client, role_users, action):
    case = make_case()
    logged_in(client, role_users, "admin")
    assert client.get(f"/exceptions/{case.pk}/{action}/").status_code == 405


def test_every_action_needs_its_csrf_token(role_users):
    case = make_case(ExceptionKind.INVALID_PAYLOAD, return_ref=None)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(role_users["data"])
    for url in [f"/exceptions/{case.pk}/ignore/", "/exceptions/bulk/"]:
        response = browser.post(url, {"note": "x", "action": "ignore", "case": [case.pk]})
        assert response.status_code == 403
    assert ExceptionCase.objects.get(pk=case.pk).status == ExceptionStatus.OPEN


@pytest.mark.parametrize(
    ("role", "status"),
    [("finance", 302), ("admin", 302), ("cx", 403), ("data", 403), ("warehouse", 403)],
)
def test_only_finance_approves_a_value(client, role_users, role, status):
    case = make_case(ExceptionKind.VALUE_MISMATCH, details={"settled": "10.00"})
    logged_in(client, role_users, role)
    response = client.post(f"/exceptions/{case.pk}/approve-value/", {"note": "agreed"})
    assert response.status_code == status


def test_a_team_cannot_act_on_another_teams_case_in_bulk_either(client, role_users):
    theirs = make_case(ExceptionKind.UNKNOWN_CUSTOMER)  # cx
    logged_in(client, role_users, "finance")
    response = client.post("/exceptions/bulk/", {"action": "assign", "case": [theirs.pk]})
    assert response.status_code == 302
    assert ExceptionCase.objects.get(pk=theirs.pk).assignee is None
    assert any("owned by the cx team" in text for text in said(response))


@pytest.mark.parametrize("role", ["finance", "warehouse", "cx", "data", "admin"])
def test_the_case_page_offers_actions_only_to_who_may_act(client, role_users, role):
    case = make_case(ExceptionKind.VALUE_MISMATCH)  # finance's
    page = logged_in(client, role_users, role).get(f"/exceptions/{case.pk}/").content.decode()
    acts = role in ("finance", "admin")
    assert ("Approve value" in page) is acts
    assert (f'action="/exceptions/{case.pk}/ignore/"' in page) is acts
    assert ("only they (or an admin) act on it" in page) is not acts


# --- the queue's filters ---------------------------------------------------------------


def test_the_queue_opens_on_the_users_own_teams_open_cases_oldest_first(client, role_users):
    old = make_case(ExceptionKind.VALUE_MISMATCH, age_days=9)
    new = make_case(ExceptionKind.POSTING_UNCONFIRMED, age_days=1)
    make_case(ExceptionKind.UNKNOWN_SKU)  # data's
    make_case(ExceptionKind.VALUE_MISMATCH, status=ExceptionStatus.RESOLVED)
    response = logged_in(client, role_users, "finance").get("/exceptions/")
    assert shown_cases(response) == [old.pk, new.pk]
    page = response.content.decode()
    assert '<option value="finance" selected>' in page
    assert '<option value="open" selected>' in page


def test_a_superuser_opens_on_every_team(client, role_users):
    mine = [make_case(kind) for kind in (ExceptionKind.UNKNOWN_SKU, ExceptionKind.VALUE_MISMATCH)]
    response = logged_in(client, role_users, "admin").get("/exceptions/")
    assert shown_cases(response) == [case.pk for case in mine]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("owner=all", ["sku", "mismatch", "address", "old", "assigned", "hr"]),
        ("owner=cx", ["address"]),
        ("owner=all&kind=value_mismatch", ["mismatch", "assigned"]),
        ("owner=all&status=all&kind=value_mismatch", ["mismatch", "assigned", "closed"]),
        ("owner=all&status=resolved", ["closed"]),
        ("owner=all&older_than=7", ["old"]),
        ("owner=all&platform=happy-returns", ["hr"]),
        ("owner=all&assigned=me", ["assigned"]),
        ("owner=all&assigned=nobody", ["sku", "mismatch", "address", "old", "hr"]),
        ("owner=all&associated_ref=HR-77", ["hr"]),
    ],
)
def test_filters(client, role_users, query, expected):
    user = role_users["finance"]
    hr = factories.ReturnFactory(
        connection=factories.PlatformConnectionFactory(platform="happy-returns", slug="hr"),
        associated_ref="HR-77",
    )
    cases = {
        "old": make_case(ExceptionKind.INVALID_PAYLOAD, age_days=10, return_ref=None),
        "sku": make_case(ExceptionKind.UNKNOWN_SKU),
        "mismatch": make_case(ExceptionKind.VALUE_MISMATCH),
        "address": make_case(ExceptionKind.INCOMPLETE_ADDRESS),
        "assigned": make_case(ExceptionKind.VALUE_MISMATCH, assignee=user),
        "closed": make_case(ExceptionKind.VALUE_MISMATCH, status=ExceptionStatus.RESOLVED),
        "hr": make_case(ExceptionKind.UNKNOWN_SKU, return_ref=hr),
    }
    order = {case.pk: name for name, case in cases.items()}
    response = logged_in(client, role_users, "finance").get(f"/exceptions/?{query}")
    assert response.status_code == 200
    assert [order[pk] for pk in shown_cases(response)] == sorted(
        expected, key=lambda name: cases[name].pk
    )


def test_a_platform_filter_finds_a_case_with_no_return_by_its_connection(client, role_users):
    swap = factories.PlatformConnectionFactory(platform="swap", slug="swap-1")
    case = make_case(ExceptionKind.PLATFORM_UNREACHABLE, return_ref=None, connection=swap)
    make_case(ExceptionKind.PLATFORM_UNREACHABLE, return_ref=None)
    response = logged_in(client, role_users, "data").get("/exceptions/?platform=swap")
    assert shown_cases(response) == [case.pk]


def test_a_returns_cases_are_shown_whichever_team_owns_them(client, role_users):
    case = make_case()
    theirs = make_case(ExceptionKind.UNKNOWN_CUSTOMER, return_ref=case.return_ref)
    make_case()
    logged_in(client, role_users, "data")
    response = client.get(f"/exceptions/?return_id={case.return_ref_id}")
    assert shown_cases(response) == [case.pk, theirs.pk]
    response = client.get(f"/exceptions/?associated_ref={case.return_ref.associated_ref}")
    assert shown_cases(response) == [case.pk, theirs.pk]
    response = client.get(f"/exceptions/?return_id={case.return_ref_id}&owner=cx")
    assert shown_cases(response) == [theirs.pk]


@pytest.mark.parametrize(
    "query", ["older_than=x", "older_than=-1", "kind=nonsense", "owner=ops", "return_id=0"]
)
def test_a_filter_it_cannot_use_is_a_400_naming_it(client, role_users, query):
    make_case()
    response = logged_in(client, role_users, "data").get(f"/exceptions/?{query}")
    assert response.status_code == 400
    assert "Check the filters" in response.content.decode()


def test_a_bad_position_is_a_400(client, role_users):
    response = logged_in(client, role_users, "data").get("/exceptions/?after=nonsense")
    assert response.status_code == 400


def test_pages_follow_on_by_keyset_without_repeats(client, role_users):
    made = [make_case().pk for _ in range(53)]
    logged_in(client, role_users, "data")
    first = client.get("/exceptions/")
    assert shown_cases(first) == made[:50]
    next_url = re.search(r'href="(/exceptions/\?after=[^"]+)" rel="next"', first.content.decode())
    second = client.get(next_url[1].replace("&amp;", "&"))
    assert shown_cases(second) == made[50:]
    assert "End of the list." in second.content.decode()


def test_each_row_says_what_where_whose_how_old_who_and_how_to_fix(client, role_users):
    ret = factories.ReturnFactory(associated_ref="LOOP-5555")
    case = make_case(
        ExceptionKind.UNKNOWN_SKU,
        return_ref=ret,
        age_days=3,
        details={"sku": "MYSTERY-1"},
        message="SKU MYSTERY-1 is not known in Khaos.",
    )
    page = logged_in(client, role_users, "data").get("/exceptions/").content.decode()
    assert "A SKU Khaos does not know" in page
    assert "LOOP-5555" in page
    assert "3\xa0days" in page
    assert "Nobody" in page
    assert "SKU MYSTERY-1 is not known in Khaos." in page
    label, url = fixes.fix_link(case)
    assert label == "Add SKU mapping"
    assert url.replace("&", "&amp;") in page
    assert "platform_sku=MYSTERY-1" in url


# --- fixed query counts ----------------------------------------------------------------


def _fix_rows() -> None:
    """A customer's row and a non-return outcome's disposition row, for fix links to find."""
    CustomerMapping.objects.create(email="known@example.com", urn="WEB1")
    DispositionMapping.objects.create(
        platform="loop",
        disposition="keep_item",
        stock_action="write_off",
        site_id=1,
        khaos_return_reason=factories.KhaosReturnReasonFactory(
            id=7, name="Kept by the customer", processing_type="write_off"
        ),
    )


def _mixed_cases(n: int) -> None:
    """Every kind whose fix link reads a row, with and without that row, and the rest."""
    kinds = [
        ExceptionKind.INCOMPLETE_ADDRESS,
        ExceptionKind.UNMAPPED_DISPOSITION,
        ExceptionKind.UNKNOWN_SKU,
        ExceptionKind.UNKNOWN_CUSTOMER,
        ExceptionKind.VALUE_MISMATCH,
    ]
    _fix_rows()
    assignee = factories.UserFactory(username="someone")
    for i in range(n):
        kind = kinds[i % len(kinds)]
        details = {"email": "known@example.com" if i % 2 else "new@example.com"}
        if kind == ExceptionKind.UNMAPPED_DISPOSITION:
            details = {"disposition": "keep_item" if i % 2 else "damaged"}
        make_case(kind, owner="data", details=details, assignee=assignee if i % 3 else None)


# session, user, the user's and the groups' permissions, the groups (default owner), the page
PAGE_QUERIES = 6


def _cases_of(kind: str, rows: int) -> None:
    _fix_rows()
    assignee = factories.UserFactory(username="someone")
    for i in range(rows):
        details = {"email": "known@example.com" if i % 2 else "new@example.com"}
        if kind == ExceptionKind.UNMAPPED_DISPOSITION:  # outcomes: with a row, and without
            details = {"disposition": "keep_item" if i % 2 else "donate"}
        make_case(kind, owner="data", details=details, assignee=assignee if i % 3 else None)


@pytest.mark.parametrize("rows", [1, 30])
@pytest.mark.parametrize(
    ("kind", "lookups"),
    [
        (ExceptionKind.UNKNOWN_SKU, 0),
        (ExceptionKind.INCOMPLETE_ADDRESS, 1),  # the customers' rows, once for the page
        (ExceptionKind.UNMAPPED_DISPOSITION, 1),  # the outcomes' rows, once for the page
    ],
)
def test_the_queue_costs_the_same_queries_whatever_its_rows(
    client, role_users, django_assert_num_queries, rows, kind, lookups
):
    _cases_of(kind, rows)
    logged_in(client, role_users, "data")
    with django_assert_num_queries(PAGE_QUERIES + lookups):
        response = client.get("/exceptions/")
    assert len(shown_cases(response)) == rows


def test_a_page_of_every_kind_reads_each_kind_of_fix_row_once(
    client, role_users, django_assert_num_queries
):
    _mixed_cases(30)
    logged_in(client, role_users, "data")
    with django_assert_num_queries(PAGE_QUERIES + 2):
        response = client.get("/exceptions/")
    assert len(shown_cases(response)) == 30


@pytest.mark.parametrize("kind", ExceptionKind.values)
def test_the_pages_fix_links_are_fix_links(kind):
    _fix_rows()
    ret = factories.ReturnFactory(
        customer_name="Ann Example", address={"line1": "1 High St", "town": "Bath"}
    )
    variants = [
        {"email": "known@example.com"},
        {"email": "new@example.com", "urn": "WEB9"},
        {"disposition": "keep_item"},
        {"disposition": "donate"},
        {"disposition": "damaged", "sku": "X-1", "reason": "too_big"},
        {},
    ]
    cases = [make_case(kind, return_ref=ret, details=details) for details in variants]
    cases = list(
        ExceptionCase.objects.select_related("return_ref__connection", "connection").filter(
            pk__in=[c.pk for c in cases]
        )
    )
    assert fixes.fix_links(cases) == {case.pk: fixes.fix_link(case) for case in cases}


# --- one case --------------------------------------------------------------------------


def test_a_case_shows_its_cause_fix_details_and_history(client, role_users):
    ret = factories.ReturnFactory(associated_ref="LOOP-6001")
    case = make_case(
        ExceptionKind.UNMAPPED_REASON,
        return_ref=ret,
        details={"reason": "too_small"},
        message="Reason too_small has no Khaos reason.",
    )
    actions.assign_exception(case, user=role_users["data"], assignee=role_users["data"])
    actions.ignore_exception(case, user=role_users["data"], note="Agreed with Loop by phone")
    page = logged_in(client, role_users, "cx").get(f"/exceptions/{case.pk}/").content.decode()
    assert "Reason too_small has no Khaos reason." in page
    assert "Add reason mapping" in page and "reason=too_small" in page
    assert "LOOP-6001" in page
    assert "assigned to data-user by data-user" in page
    assert "ignored by data-user: Agreed with Loop by phone" in page
    assert "Ignored" in page
    assert "Act on it" not in page  # closed: nothing to do


def test_a_case_links_the_earlier_cases_of_its_cause(client, role_users):
    first = make_case(ExceptionKind.UNKNOWN_SKU)
    actions.resolve_exception(first, user=role_users["data"], note="mapped")
    again = factories.ExceptionCaseFactory(
        kind=first.kind, owner=first.owner, cause_key=first.cause_key, return_ref=first.return_ref
    )
    page = logged_in(client, role_users, "data").get(f"/exceptions/{again.pk}/").content.decode()
    assert f'href="/exceptions/{first.pk}/"' in page


def test_an_unknown_case_is_a_404(client, role_users):
    assert logged_in(client, role_users, "data").get("/exceptions/999999/").status_code == 404


# --- single actions ----------------------------------------------------------------------


def test_assign_and_unassign_through_the_service(client, role_users):
    case = make_case(ExceptionKind.UNKNOWN_SKU)
    logged_in(client, role_users, "data")
    response = client.post(f"/exceptions/{case.pk}/assign/", {"next": "/exceptions/"})
    assert response["Location"] == "/exceptions/"
    assert ExceptionCase.objects.get(pk=case.pk).assignee == role_users["data"]
    assert case.return_ref.timeline.filter(kind="exception_assigned").count() == 1
    client.post(f"/exceptions/{case.pk}/unassign/")
    assert ExceptionCase.objects.get(pk=case.pk).assignee is None
    assert case.return_ref.timeline.filter(kind="exception_assigned").count() == 2


def test_next_never_leaves_the_site(client, role_users):
    case = make_case(ExceptionKind.UNKNOWN_SKU)
    logged_in(client, role_users, "data")
    response = client.post(f"/exceptions/{case.pk}/assign/", {"next": "https://evil.test/"})
    assert response["Location"] == f"/exceptions/{case.pk}/"


def test_ignore_needs_a_note_and_records_who(client, role_users):
    case = make_case(ExceptionKind.INVALID_PAYLOAD, return_ref=None)
    logged_in(client, role_users, "data")
    response = client.post(f"/exceptions/{case.pk}/ignore/", {"note": "  "})
    assert any("Say why" in text for text in said(response))
    assert ExceptionCase.objects.get(pk=case.pk).status == ExceptionStatus.OPEN

    client.post(f"/exceptions/{case.pk}/ignore/", {"note": "Replayed by hand"})
    case.refresh_from_db()
    assert (case.status, case.resolved_by, case.resolution) == (
        ExceptionStatus.IGNORED,
        role_users["data"],
        "Replayed by hand",
    )


def test_a_service_refusal_is_a_message_not_a_500(client, role_users):
    case = make_case(ExceptionKind.INVALID_PAYLOAD, return_ref=None)
    logged_in(client, role_users, "data")
    client.post(f"/exceptions/{case.pk}/resolve/", {"note": "fixed"})
    response = client.post(f"/exceptions/{case.pk}/resolve/", {"note": "again"}, follow=True)
    assert response.status_code == 200
    assert f"Case #{case.pk}: not done: exception {case.pk} is already resolved" in (
        response.content.decode()
    )
    response = client.post(f"/exceptions/{case.pk}/retry/", follow=True)
    assert response.status_code == 200


def test_approving_a_value_that_is_not_a_mismatch_is_refused_in_words(client, role_users):
    case = make_case(ExceptionKind.POSTING_UNCONFIRMED)
    logged_in(client, role_users, "finance")
    response = client.post(f"/exceptions/{case.pk}/approve-value/", {"note": "x"})
    assert any("only a value mismatch" in text for text in said(response))


# --- the value mismatch, end to end through the screen -----------------------------------


def _loop_mismatch(workspace) -> Return:
    connection = workspace.connections["loop"]
    body = fixture_json("loop/06_return_closed_5004_value_mismatch_mapped_sku.json")
    ingest.apply_all(connection, parse_return(body))
    return Return.objects.get(connection=connection, external_id=body["id"])


def test_finance_approves_a_value_mismatch_and_the_posting_moves_on(client, workspace, role_users):
    ret = _loop_mismatch(workspace)
    case = ret.exceptions.get(status="open")
    assert ret.postings.get().state == PostingState.HELD

    logged_in(client, role_users, "finance")
    page = client.get("/exceptions/?kind=value_mismatch").content.decode()
    assert shown_cases(client.get("/exceptions/?kind=value_mismatch")) == [case.pk]
    assert "Refunded a different amount than expected" in page

    detail = client.get(f"/exceptions/{case.pk}/").content.decode()
    assert "149.00" in detail and "126.65" in detail
    assert "Held by an exception" in detail

    response = client.post(
        f"/exceptions/{case.pk}/approve-value/", {"note": "Goodwill on a late refund"}, follow=True
    )
    page = response.content.decode()
    assert "the settled value is approved. LOOP-5004 is now Ready for Khaos." in page
    ret.refresh_from_db()
    assert ret.value_approved_amount == Decimal("149.00")
    assert ret.value_approved_by == role_users["finance"]
    assert ret.postings.get().state == PostingState.READY
    assert ExceptionCase.objects.get(pk=case.pk).status == ExceptionStatus.RESOLVED
    assert "Settlement of 149.00 GBP approved: Goodwill on a late refund" in page


# --- bulk --------------------------------------------------------------------------------


def test_bulk_assign_does_what_it_may_and_says_which_failed_and_why(client, role_users):
    mine = [make_case(ExceptionKind.UNKNOWN_SKU) for _ in range(3)]
    theirs = make_case(ExceptionKind.UNKNOWN_CUSTOMER)
    closed = make_case(ExceptionKind.UNKNOWN_SKU, status=ExceptionStatus.RESOLVED)
    logged_in(client, role_users, "data")
    ids = [*(case.pk for case in mine), theirs.pk, closed.pk, 987654]
    response = client.post(
        "/exceptions/bulk/", {"action": "assign", "case": ids, "next": "/exceptions/?kind="}
    )
    assert response.status_code == 302
    assert response["Location"] == "/exceptions/?kind="
    messages = said(response)
    assert messages[0] == "3 of 6 cases assigned to you."
    assert f"#{theirs.pk} (Unknown customer, {theirs.return_ref}): not done: owned by the cx " in (
        messages[1] + " "
    )
    assert "is already resolved" in messages[2]
    assert messages[3] == "#987654: not done: no such case"
    assert all(
        ExceptionCase.objects.get(pk=case.pk).assignee == role_users["data"] for case in mine
    )
    assert ExceptionCase.objects.get(pk=theirs.pk).assignee is None


def test_bulk_ignore_needs_one_note_and_applies_it_to_each(client, role_users):
    cases = [make_case(ExceptionKind.INVALID_PAYLOAD, return_ref=None) for _ in range(2)]
    logged_in(client, role_users, "data")
    ids = [case.pk for case in cases]
    response = client.post("/exceptions/bulk/", {"action": "ignore", "case": ids})
    assert said(response) == ["Nothing done: Ignoring needs a note: where is it handled?"]
    assert not ExceptionCase.objects.filter(status=ExceptionStatus.IGNORED).exists()

    response = client.post(
        "/exceptions/bulk/", {"action": "ignore", "case": ids, "note": "Replayed in Loop"}
    )
    assert said(response)[-1] == "2 of 2 cases ignored."  # after the first answer's
    assert set(ExceptionCase.objects.filter(pk__in=ids).values_list("status", "resolution")) == {
        (ExceptionStatus.IGNORED, "Replayed in Loop")
    }


def test_bulk_retry_retries_each_and_counts_what_cleared(client, role_users, workspace):
    ret = _loop_mismatch(workspace)
    mismatch = ret.exceptions.get(status="open")  # still there when retried
    nothing = make_case(ExceptionKind.POSTING_UNCONFIRMED, return_ref=None)  # nothing to retry
    logged_in(client, role_users, "finance")
    response = client.post(
        "/exceptions/bulk/", {"action": "retry", "case": [mismatch.pk, nothing.pk]}
    )
    messages = said(response)
    assert messages[0] == "1 of 2 cases retried. 0 cleared, 1 still open."
    assert messages[1].endswith(f"not done: exception {nothing.pk} has nothing to retry")
    assert ret.timeline.filter(kind="retried").count() == 1


@pytest.mark.parametrize(
    ("post", "problem"),
    [
        ({"action": "assign"}, "Select at least one case."),
        ({"action": "assign", "case": ["1x"]}, "is not a case number"),
        ({"action": "explode", "case": ["1"]}, "Select a valid choice"),
    ],
)
def test_a_bulk_request_it_cannot_read_does_nothing(client, role_users, post, problem):
    logged_in(client, role_users, "data")
    response = client.post("/exceptions/bulk/", post)
    assert response.status_code == 302
    assert problem in said(response)[0]


def test_the_bulk_bar_is_shown_to_who_may_act(client, role_users):
    make_case()
    page = logged_in(client, role_users, "data").get("/exceptions/").content.decode()
    assert 'id="bulk-actions"' in page and 'form="bulk-actions"' in page
    assert 'name="csrfmiddlewaretoken"' in page


# --- the service -------------------------------------------------------------------------


def test_assign_exception_refuses_a_closed_case_and_someone_outside_the_team(role_users):
    case = make_case(ExceptionKind.UNKNOWN_SKU)
    with pytest.raises(ActionError, match="not in the data team"):
        actions.assign_exception(case, user=role_users["admin"], assignee=role_users["cx"])
    actions.assign_exception(case, user=role_users["admin"], assignee=role_users["admin"])
    assert ExceptionCase.objects.get(pk=case.pk).assignee == role_users["admin"]
    actions.resolve_exception(case, user=role_users["admin"])
    with pytest.raises(ActionError, match="already resolved"):
        actions.assign_exception(case, user=role_users["data"], assignee=None)
