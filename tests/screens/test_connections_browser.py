"""/connections/ in a real browser (Debian's chromium driven by Playwright) against a live
hub: a data user changes a connection's posting policy and sends it a test event."""

import re

import pytest
from playwright.sync_api import expect

from returns_hub.models import InboxDelivery, PlatformConnection
from tests.screens.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1440, "height": 900}}


def test_data_changes_a_policy_and_sends_a_test_event(live_server, page, role_users, workspace):
    page.goto(f"{live_server.url}/connections/")
    page.get_by_label("User name").fill("data-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/connections/")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Khaos channels")).to_be_visible()
    page_text = page.content()
    assert workspace.connections["loop"].webhook_secret not in page_text

    # The filter form narrows the list in place.
    page.get_by_label("Platform").select_option("swap")
    expect(page).to_have_url(re.compile(r"platform=swap"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.get_by_role("link", name="hf-swap").click()

    # Change the posting policy through the settings form.
    expect(page.get_by_role("heading", name="Connection hf-swap")).to_be_visible()
    page.get_by_label("Posting policy").select_option("on_final_disposition")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Saved the settings of hf-swap.")).to_be_visible()
    connection = PlatformConnection.objects.get(slug="hf-swap")
    assert connection.posting_policy == "on_final_disposition"

    # Send a test event: the Swap simulator signs it (a JWT) and posts it to the hub.
    page.get_by_role("button", name="Send test event").click()
    result = page.locator("#test-result-hf-swap")
    expect(result).to_contain_text("Accepted (202)")
    expect(result.get_by_role("link", name=re.compile(r"Inbox delivery \d+"))).to_be_visible()
    assert InboxDelivery.objects.filter(connection=connection).count() == 1

    # And from the list, for another platform.
    page.goto(f"{live_server.url}/connections/")
    page.get_by_role("button", name="Send test event to hf-loop").click()
    expect(page.locator("#test-result-hf-loop")).to_contain_text("Accepted (202)")
    screenshot(page, "connections.png", readme=True)
