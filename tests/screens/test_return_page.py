"""/returns/<id>/: one return whole, in a fixed number of queries, and finance's approval."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test.utils import CaptureQueriesContext

from returns_hub.choices import ExceptionStatus, PostingState
from returns_hub.models import StoreCreditLiability
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ret():
    ret = factories.ReturnFactory(associated_ref="LOOP-5001", refunded_amount=Decimal("29.99"))
    factories.ReturnUnitFactory(return_ref=ret, platform_sku="HF-TEE", condition="A")
    factories.TimelineEntryFactory(return_ref=ret, message="Return created on Loop")
    factories.PostingFactory(
        return_ref=ret,
        state=PostingState.READY,
        expected_credit=Decimal("29.99"),
        document='{"Returns": [{"AssociatedRef": "LOOP-5001", "Value": 29.99}]}',
    )
    factories.ExceptionCaseFactory(return_ref=ret, details={"sku": "HF-TEE"})
    return ret


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("finance", 200),
        ("warehouse", 200),
        ("cx", 200),
        ("data", 200),
        ("admin", 200),
        ("nobody", 403),
    ],
)
def test_every_team_sees_a_return(client, role_users, ret, role, status):
    client.force_login(role_users[role])
    assert client.get(f"/returns/{ret.pk}/").status_code == status


def test_anyone_not_logged_in_is_sent_to_log_in(client, ret):
    response = client.get(f"/returns/{ret.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/returns/")


def test_no_such_return_is_404(client, role_users):
    client.force_login(role_users["cx"])
    assert client.get("/returns/999999/").status_code == 404


def test_the_page_shows_units_timeline_postings_exceptions_and_money(client, role_users, ret):
    client.force_login(role_users["finance"])
    StoreCreditLiability.objects.create(
        return_ref=ret, kind="gift_card", reference="GC-1", amount=Decimal("5.00"), currency="GBP"
    )
    html = client.get(f"/returns/{ret.pk}/").content.decode()
    assert "HF-TEE" in html
    assert "Return created on Loop" in html
    assert '<details class="posting">' in html
    assert "&quot;AssociatedRef&quot;: &quot;LOOP-5001&quot;" in html  # pretty JSON, escaped
    assert "&quot;Value&quot;: 29.99" in html  # the amount as written, never through a float
    assert "Add SKU mapping" in html  # the fix link
    assert "GC-1" in html
    assert "29.99" in html


def test_the_warehouse_sees_no_postings(client, role_users, ret):
    client.force_login(role_users["warehouse"])
    html = client.get(f"/returns/{ret.pk}/").content.decode()
    assert "Postings to Khaos" not in html


def _build(count: int):
    ret = factories.ReturnFactory()
    for n in range(count):
        unit = factories.ReturnUnitFactory(return_ref=ret)
        factories.TimelineEntryFactory(return_ref=ret, unit=unit)
        factories.ExceptionCaseFactory(return_ref=ret, unit=unit, cause_key=f"sku:{ret.pk}:{n}")
        StoreCreditLiability.objects.create(
            return_ref=ret, kind="store_credit", reference=f"SC-{n}", amount=1, currency="GBP"
        )
    factories.PostingFactory(return_ref=ret, state=PostingState.READY, document="<Returns/>")
    return ret


def test_the_page_costs_the_same_queries_whatever_the_return_holds(
    client, role_users, django_assert_num_queries
):
    from django.db import connection

    client.force_login(role_users["finance"])
    small, large = _build(1), _build(30)
    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/returns/{small.pk}/").status_code == 200
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get(f"/returns/{large.pk}/").status_code == 200


def _value_mismatch(ret):
    ret.refunded_amount = Decimal("20.00")
    ret.save()
    return factories.ExceptionCaseFactory(
        return_ref=ret,
        kind="value_mismatch",
        cause_key=f"value_mismatch:{ret.pk}",
        details={"settled": "20.00", "expected": "29.99"},
        message="Settled 20.00, expected 29.99",
    )


def test_only_finance_is_offered_the_approval(client, role_users, ret):
    _value_mismatch(ret)
    client.force_login(role_users["cx"])
    assert "Approve the settled value" not in client.get(f"/returns/{ret.pk}/").content.decode()
    client.force_login(role_users["finance"])
    assert "Approve the settled value" in client.get(f"/returns/{ret.pk}/").content.decode()


@pytest.mark.parametrize("role", ["warehouse", "cx", "data", "nobody"])
def test_other_teams_may_not_approve(client, role_users, ret, role):
    _value_mismatch(ret)
    client.force_login(role_users[role])
    assert client.post(f"/returns/{ret.pk}/approve-value/", {"note": "x"}).status_code == 403


def test_finance_approves_a_value_mismatch_through_the_service(client, role_users, ret):
    case = _value_mismatch(ret)
    client.force_login(role_users["finance"])
    response = client.post(
        f"/returns/{ret.pk}/approve-value/", {"note": "agreed with Loop"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/returns/{ret.pk}/"
    case.refresh_from_db()
    ret.refresh_from_db()
    assert case.status != ExceptionStatus.OPEN
    assert ret.value_approved_amount == Decimal("20.00")
    assert "approved" in response.content.decode()


def test_approving_without_a_mismatch_says_why(client, role_users, ret):
    client.force_login(role_users["finance"])
    response = client.post(f"/returns/{ret.pk}/approve-value/", {"note": ""}, follow=True)
    assert "no open value mismatch" in response.content.decode()


def test_approving_needs_the_csrf_token(role_users, ret):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["finance"])
    assert client.post(f"/returns/{ret.pk}/approve-value/", {"note": ""}).status_code == 403


def _cases_that_look_rows_up(n: int):
    """A return with ``n`` open incomplete-address and ``n`` non-return-outcome cases: the
    kinds whose fix link reads a row (the customer's, the disposition's)."""
    ret = factories.ReturnFactory(customer_email="ann@example.com")
    for i in range(n):
        factories.ExceptionCaseFactory(
            return_ref=ret, kind="incomplete_address", details={"email": f"c{i}@example.com"}
        )
        factories.ExceptionCaseFactory(
            return_ref=ret, kind="unmapped_disposition", details={"disposition": "keep_item"}
        )
    return ret


def test_fix_links_that_read_rows_cost_no_query_per_case(client, role_users):
    from django.db import connection

    client.force_login(role_users["cx"])
    small, large = _cases_that_look_rows_up(1), _cases_that_look_rows_up(30)
    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/returns/{small.pk}/").status_code == 200
    with CaptureQueriesContext(connection) as thirty:
        html = client.get(f"/returns/{large.pk}/").content.decode()
    assert html.count("Add disposition mapping") == 30
    assert len(thirty.captured_queries) == len(one.captured_queries)
