"""/finance/ in a real browser (Debian's chromium driven by Playwright) against a live hub."""

import re

import pytest
from playwright.sync_api import expect

from tests.reconciliation.hub import build_march
from tests.screens.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1280, "height": 900}}


def test_finance_drills_from_the_month_to_a_cause_and_filters_it(live_server, page, role_users):
    build_march(role_users["finance"], backdate=True)
    page.goto(f"{live_server.url}/finance/")
    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/finance/")
    expect(page.get_by_role("link", name="Finance")).to_have_attribute("aria-current", "page")

    # The fixture month, with its chart of matched vs open differences.
    page.goto(f"{live_server.url}/finance/periods/2025-03/")
    expect(page.get_by_role("heading", name="Reconciliation: March 2025")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Matched and open differences per day"))
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(62)
    screenshot(page, "finance-period.png")

    # A cause's open count opens the differences behind it.
    causes = page.locator("table.causes")
    causes.locator("tr[data-cause='credit_note_differs'] td").nth(1).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/finance/differences/\?.*cause=credit_note_differs"))
    expect(page.get_by_role("heading", name="Differences")).to_be_visible()
    expect(page.get_by_role("cell", name="CN0010486", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="-5.00", exact=True)).to_be_visible()
    expect(page.get_by_label("Cause")).to_have_value("credit_note_differs")

    # The filter form: another cause swaps the results in place and the URL follows.
    page.get_by_label("Cause").select_option("raised_by_hand")
    expect(page).to_have_url(re.compile(r"cause=raised_by_hand"))
    expect(page.get_by_role("cell", name="CN0010488", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="CN0010486", exact=True)).to_have_count(0)
    expect(page.get_by_role("cell", name="15.00", exact=True)).to_be_visible()
    screenshot(page, "finance-differences.png")

    # Every cause, then only the warehouse's: the timing difference alone.
    page.get_by_label("Cause").select_option("")
    page.get_by_label("Owner").select_option("warehouse")
    expect(page).to_have_url(re.compile(r"owner=warehouse"))
    expect(page.get_by_role("link", name="HR-timing-1014")).to_be_visible()
    expect(page.locator("#results tbody tr")).to_have_count(1)

    # A filter it cannot use says so in place of the results.
    page.get_by_label("Currency").fill("12")
    page.get_by_label("Currency").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("three-letter currency code")
