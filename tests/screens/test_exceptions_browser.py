"""/exceptions/ in a real browser (Debian's chromium driven by Playwright) against a live
hub: a finance user clears a value mismatch from the queue."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from returns_hub.choices import ExceptionKind, ExceptionStatus, PostingState
from returns_hub.models import ExceptionCase, Return
from tests import factories
from tests.screens.conftest import screenshot
from tests.screens.test_exceptions import _loop_mismatch, make_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1280, "height": 900}}


def test_finance_clears_a_value_mismatch_from_its_queue(live_server, page, workspace, role_users):
    ret = _loop_mismatch(workspace)  # LOOP-5004: refunded 149.00 against 126.65 expected
    mismatch = ret.exceptions.get(status=ExceptionStatus.OPEN)
    # Other work in the queue: finance's own, and other teams' (not shown by default).
    unconfirmed = make_case(
        ExceptionKind.POSTING_UNCONFIRMED,
        age_days=4,
        return_ref=factories.ReturnFactory(associated_ref="LOOP-4990"),
        message="Khaos has not confirmed LOOP-4990's credit note after 3 days.",
    )
    make_case(
        ExceptionKind.UNKNOWN_SKU,
        details={"sku": "MYSTERY-1"},
        message="SKU MYSTERY-1 is not known in Khaos.",
    )
    make_case(
        ExceptionKind.UNKNOWN_CUSTOMER,
        age_days=2,
        details={"email": "ann@example.com"},
        message="No Khaos account (URN) for ann@example.com, and the channel has no default.",
    )

    # The pages run under the hub's Content Security Policy: nothing of theirs breaks it.
    # (Checked before the first screenshot: after one, Chromium reports a refused style on
    # the next htmx swap, which the same steps without a screenshot never do.)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else 0)

    page.goto(f"{live_server.url}/exceptions/")
    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/exceptions/")
    expect(page.get_by_role("heading", name="Exceptions", exact=True)).to_be_visible()

    # The finance team's open cases, oldest first; other teams' are not in the way.
    expect(page.get_by_label("Owner")).to_have_value("finance")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-case", str(mismatch.pk))  # opened first
    expect(rows.nth(1)).to_have_attribute("data-case", str(unconfirmed.pk))
    expect(page.get_by_text("SKU MYSTERY-1")).to_have_count(0)

    # Narrow to value mismatches: the results change in place and the URL follows.
    page.get_by_label("Kind").select_option("value_mismatch")
    expect(page).to_have_url(re.compile(r"kind=value_mismatch"))
    expect(rows).to_have_count(1)
    row = page.locator(f"tr[data-case='{mismatch.pk}']")
    expect(row).to_contain_text("Refunded a different amount than expected")
    expect(row.get_by_role("link", name="LOOP-5004")).to_be_visible()

    # The case: what was settled against what was expected, and the credit note it holds.
    row.get_by_role("link", name=f"#{mismatch.pk}").click()
    expect(page.get_by_role("heading", name=re.compile(f"Case #{mismatch.pk}"))).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("149.00")
    expect(page.locator("dl.facts")).to_contain_text("126.65")
    posting_state = page.locator("tr[data-posting='LOOP-5004'] .posting-state")
    expect(posting_state).to_have_text("Held by an exception")

    page.get_by_label("Note", exact=True).fill("Goodwill on a late refund")
    page.get_by_role("button", name="Approve value").click()

    expect(page.get_by_role("status")).to_contain_text(
        "the settled value is approved. LOOP-5004 is now Ready for Khaos."
    )
    expect(posting_state).to_have_text("Ready for Khaos")
    expect(page.locator(".status")).to_contain_text("Resolved")
    expect(page.locator("ol.history")).to_contain_text(
        "Settlement of 149.00 GBP approved: Goodwill on a late refund"
    )
    assert refused == []
    screenshot(page, "exceptions-case.png", readme=True)

    ret = Return.objects.get(pk=ret.pk)
    assert ret.value_approved_amount == Decimal("149.00")
    assert ret.value_approved_by == role_users["finance"]
    assert ret.postings.get().state == PostingState.READY
    assert ExceptionCase.objects.get(pk=mismatch.pk).status == ExceptionStatus.RESOLVED

    # Back in the queue, the mismatch is gone from the open cases.
    page.get_by_role("link", name="← Exceptions").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator(f"tr[data-case='{unconfirmed.pk}']")).to_be_visible()

    # Every team's open cases, each cause with its fix: the queue's picture for the README.
    page.get_by_label("Owner").select_option("all")
    expect(page).to_have_url(re.compile(r"owner=all"))
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page.get_by_role("link", name="Add SKU mapping →")).to_be_visible()
    expect(page.get_by_role("link", name="Add customer mapping →")).to_be_visible()
    screenshot(page, "exceptions.png", readme=True)
