"""A real browser (Debian's chromium driven by Playwright) against a live hub."""

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_logs_in_and_sees_the_latest_returns(live_server, page, role_users):
    factories.ReturnFactory(associated_ref="LOOP-5001", order_ref="1001")

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
    expect(page.get_by_role("cell", name="LOOP-5001")).to_be_visible()
    expect(page.get_by_role("button", name="Log out finance-user")).to_be_visible()
    page.screenshot(path=str(_screenshot_dir() / "home.png"))

    page.get_by_role("button", name="Log out finance-user").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def _screenshot_dir():
    from django.conf import settings

    path = settings.DATA_DIR / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
