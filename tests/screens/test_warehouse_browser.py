"""/warehouse/ in a real browser (Debian's chromium driven by Playwright) on a live hub:
a warehouse hand scans a return's label, marks its units received and grades them sellable
with the keyboard alone, and the return is then on the Khaos channel's return download."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from returns_hub.models import Return
from tests.screens.conftest import screenshot
from tests.screens.test_warehouse import LABEL, PALLET, hr_on_a_pallet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1280, "height": 900}}


def test_a_warehouse_hand_scans_receives_and_grades_and_khaos_downloads_it(
    live_server, page, role_users, workspace
):
    ret = hr_on_a_pallet(workspace)
    boot, scarf = ret.units.order_by("pk")
    keyboard = page.keyboard

    page.goto(f"{live_server.url}/warehouse/")
    page.get_by_label("User name").fill("warehouse-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/warehouse/")
    expect(page.get_by_role("heading", name="Expected goods-in")).to_be_visible()
    expect(page.get_by_role("link", name=ret.associated_ref).first).to_be_visible()
    screenshot(page, "warehouse-goods-in.png", readme=True)

    # An unknown code: said plainly, and the box is ready for the next scan.
    scan_box = page.get_by_label("Scan or type a code")
    expect(scan_box).to_be_focused()
    keyboard.type("NOT-A-LABEL")
    keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Nothing matches “NOT-A-LABEL”")
    expect(scan_box).to_be_focused()

    # The scanner types the label's barcode and Enter: the return's card, Received in focus.
    keyboard.type(LABEL)
    keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/warehouse/returns/{ret.pk}/\?scanned="))
    expect(page.get_by_role("heading", name=f"Goods-in: {ret.associated_ref}")).to_be_visible()
    boot_card = page.locator(f"li[data-unit='{boot.pk}']")
    scarf_card = page.locator(f"li[data-unit='{scarf.pk}']")
    expect(boot_card.get_by_role("button", name="Received")).to_be_focused()

    # Enter: received. Then the grade's number and Enter: graded sellable (1).
    keyboard.press("Enter")
    expect(boot_card).to_have_attribute("data-state", "received")
    expect(page.get_by_role("status")).to_contain_text("HF-FTW-CHL-BRN-08 received.")
    expect(boot_card.get_by_role("textbox", name=re.compile("^Grade"))).to_be_focused()
    keyboard.type("1")
    keyboard.press("Enter")
    expect(boot_card).to_have_attribute("data-state", "graded")
    expect(page.get_by_role("status")).to_contain_text("graded sellable (restock)")

    # The focus has moved on to the scarf: the same keys again.
    expect(scarf_card.get_by_role("button", name="Received")).to_be_focused()
    screenshot(page, "warehouse.png", readme=True)
    keyboard.press("Enter")
    expect(scarf_card).to_have_attribute("data-state", "received")
    expect(scarf_card.get_by_role("textbox", name=re.compile("^Grade"))).to_be_focused()
    keyboard.type("1")
    keyboard.press("Enter")
    expect(scarf_card).to_have_attribute("data-state", "graded")
    expect(page.get_by_text("2 of 2 received, 2 graded")).to_be_visible()
    expect(scan_box).to_be_focused()  # all done: ready for the next parcel

    ret.refresh_from_db()
    assert ret.state == "graded"
    assert set(ret.units.values_list("disposition", flat=True)) == {"sellable"}
    assert list(ret.postings.values_list("state", flat=True)) == ["ready"]

    # The pallet is checked off.
    page.goto(f"{live_server.url}/warehouse/pallets/{PALLET}/")
    expect(page.get_by_role("heading", name=f"Pallet {PALLET}")).to_be_visible()
    expect(page.locator(".pallet-counts")).to_contain_text("2 received")
    expect(page.locator(".pallet-counts")).to_contain_text("0 missing")
    screenshot(page, "warehouse-pallet.png", readme=True)

    # Khaos downloads the return over HTTP with the channel's Basic auth.
    download = httpx.get(
        f"{live_server.url}/khaos/{workspace.channel.slug}/returns",
        params={"format": "json"},
        auth=("khaos", "khaos-pw"),
        timeout=30,
    )
    assert download.status_code == 200
    assert ret.associated_ref in download.text
    assert Return.objects.get(pk=ret.pk).postings.get().state == "downloaded"
