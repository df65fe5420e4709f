"""/cx/ in a real browser (Debian's chromium driven by Playwright) against a live hub: a CX
user finds an exchange's Khaos order status, then completes a missing address and sees the
return move on."""

import dataclasses
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from returns_hub.models import ExceptionCase, Posting
from tests.conftest import fixture_bytes, khaos_basic
from tests.engine_events import (
    apply,
    apply_together,
    graded,
    loop_5002_exchange,
    opened,
    unit,
)
from tests.screens.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1280, "height": 900}}


def exchange_with_khaos_status(workspace):
    """Loop return 5002 exchanged for a large jumper, whose order Khaos says it received."""
    apply(
        workspace.connections["loop"],
        loop_5002_exchange(),
    )
    khaos = Client()
    assert khaos.get("/khaos/hf/orders", **khaos_basic()).status_code == 200
    pushed = khaos.post(
        "/khaos/hf/order-status?format=json",
        fixture_bytes("khaos/order_status_upload.json"),
        content_type="application/json",
        **khaos_basic(),
    )
    assert pushed.status_code == 200


def held_for_address(workspace):
    """ReBound return AD1: no town and no name anywhere, so Khaos cannot be told."""
    workspace.channel.default_urn = "WEBGUEST"
    workspace.channel.save()
    event = dataclasses.replace(
        opened(
            "AD1",
            [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="1050",
            email="nora.quinn@example.com",
            name="",
        ),
        address={"line1": "4 Kiln Row", "postcode": "YO21 3AA", "country_code": "GB"},
    )
    return apply_together(workspace.connections["rebound"], event, graded("AD1", "1", "restocked"))


def test_cx_finds_an_exchange_status_and_fixes_a_missing_address(
    live_server, page, role_users, workspace
):
    exchange_with_khaos_status(workspace)
    held = held_for_address(workspace)

    page.goto(f"{live_server.url}/cx/")
    page.get_by_label("User name").fill("cx-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/cx/")
    expect(page.get_by_role("link", name="CX")).to_have_attribute("aria-current", "page")

    # An order number with its shop's "#": one return, opened directly.
    search = page.get_by_label("Order number, email or return id")
    expect(search).to_be_focused()
    search.fill("#1002")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/cx/returns/\d+/$"))
    expect(page.get_by_role("heading", name=re.compile("Return LOOP-5002"))).to_be_visible()
    exchanges = page.locator("table.cx-exchanges")
    expect(exchanges).to_contain_text("HF-KNT-MCR-NVY-L")
    expect(exchanges.locator("td.cx-order-status")).to_have_text("Received")
    expect(exchanges).to_contain_text("LOOP-5002-X: Confirmed (SO02131)")
    expect(page.locator(".cx-timeline")).to_contain_text(
        "Khaos Control sent an order status: Khaos order SO02131 for LOOP-5002-X is Received."
    )

    # Nothing found, said plainly.
    page.get_by_role("link", name="← Find a return").click()
    page.get_by_label("Order number, email or return id").fill("no-such-order")
    page.get_by_label("Order number, email or return id").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Nothing found for “no-such-order”")

    # The customer's email, typed as they spell it: the held return.
    page.get_by_label("Order number, email or return id").fill(" Nora.Quinn@Example.com ")
    page.get_by_label("Order number, email or return id").press("Enter")
    expect(page).to_have_url(f"{live_server.url}/cx/returns/{held.pk}/")
    hold = page.locator(".cx-hold")
    expect(hold).to_contain_text("Incomplete address")
    expect(hold).to_contain_text("owned by Customer experience")
    expect(page.locator(".cx-document")).to_contain_text("RB-AD1: Held by an exception")

    # The row's form, pre-filled from ReBound: only the town and the name are missing.
    hold.get_by_role("link", name="Complete the customer's row below").click()
    expect(page.get_by_label("Address line 1")).to_have_value("4 Kiln Row")
    expect(page.get_by_label("Khaos account (URN)")).to_have_value("WEBGUEST")
    page.get_by_role("button", name="Save the customer's row").click()
    expect(page.get_by_role("alert")).to_contain_text("The row was not saved")
    expect(page.locator(".cx-field.has-error")).to_have_count(2)
    page.get_by_label("Town").fill("Whitby")
    page.get_by_label("Name (forename and surname)").fill("Nora Quinn")
    page.get_by_role("button", name="Save the customer's row").click()

    # It moves on: nothing holds it and its Khaos document is ready.
    expect(page.get_by_text("Customer row saved. Nothing holds the return now.")).to_be_visible()
    expect(page.locator(".cx-clear")).to_have_text("Nothing holds this return.")
    expect(page.locator(".cx-document")).to_contain_text("RB-AD1: Ready for Khaos")
    expect(page.locator(".cx-timeline")).to_contain_text("cx-user saved the customer's address row")
    assert Posting.objects.get(associated_ref="RB-AD1").state == "ready"
    assert not ExceptionCase.objects.filter(return_ref=held, status="open").exists()

    screenshot(page, "cx.png", readme=True)
