"""A real browser (Debian's chromium driven by Playwright) against a live hub: log in, read
the dashboard, open a return from it, and approve its value mismatch as finance."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from returns_hub.choices import PostingState
from tests import factories
from tests.screens.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_logs_in_and_reads_the_dashboard(live_server, page, role_users):
    factories.PostingFactory(state=PostingState.READY)
    factories.ExceptionCaseFactory(kind="unknown_sku")

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("did not match")).to_be_visible()

    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("tr.stale").first).to_be_visible()  # a feed never heard from
    expect(page.get_by_role("link", name="Data: 1")).to_be_visible()
    expect(page.get_by_role("button", name="Log out finance-user")).to_be_visible()
    screenshot(page, "dashboard.png", readme=True)

    page.get_by_role("button", name="Log out finance-user").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def test_finance_approves_a_value_mismatch_on_the_return_page(live_server, page, role_users):
    ret = factories.ReturnFactory(associated_ref="LOOP-5001", refunded_amount=Decimal("20.00"))
    factories.ReturnUnitFactory(return_ref=ret, title="Organic tee, white, M")
    factories.TimelineEntryFactory(return_ref=ret, message="Return created on Loop")
    factories.PostingFactory(
        return_ref=ret, document='{"AssociatedRef": "LOOP-5001", "Value": 29.99}'
    )
    case = factories.ExceptionCaseFactory(
        return_ref=ret,
        kind="value_mismatch",
        cause_key="value_mismatch:browser",
        details={"settled": "20.00", "expected": "29.99"},
        message="Loop settled 20.00 GBP; the expected credit is 29.99 GBP",
    )

    page.goto(f"{live_server.url}/accounts/login/?next=/returns/{ret.pk}/")
    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Return LOOP-5001")).to_be_visible()
    page.locator("details.posting summary").first.click()
    expect(page.locator("pre.document")).to_contain_text('"Value": 29.99')
    screenshot(page, "return-page.png", readme=True)

    page.get_by_label("Note for the approval").fill("Loop kept a restocking fee")
    page.get_by_role("button", name="Approve the settled value").click()
    expect(page.get_by_role("status")).to_contain_text("approved")
    expect(page.get_by_text("Settlement of 20.00 GBP approved")).to_be_visible()
    case.refresh_from_db()
    assert case.status != "open"
