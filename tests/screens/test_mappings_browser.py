"""The data team's main path in a real browser (Debian's chromium driven by Playwright)
against a live hub: a return held by an unknown SKU, fixed by importing a mapping CSV."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from returns_hub.choices import ExceptionKind, PostingState
from returns_hub.models import SkuMapping
from tests.screens.conftest import screenshot
from tests.screens.test_mappings_import import PLATFORM_SKU, held_for_unknown_sku

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    return {"viewport": {"width": 1280, "height": 900}}


def where_the_hold_shows(live_server, ret) -> str:
    """The return's own page once it exists; until then the exceptions the API lists."""
    try:
        return f"{live_server.url}{reverse('return-detail', args=[ret.pk])}"
    except NoReverseMatch:
        return f"{live_server.url}/api/v1/exceptions/?kind=unknown_sku&status=open"


def test_data_fixes_an_unknown_sku_by_importing_a_mapping_csv(
    live_server, page, role_users, workspace
):
    ret = held_for_unknown_sku(workspace.connections["loop"])
    case = ret.exceptions.get(kind=ExceptionKind.UNKNOWN_SKU, status="open")

    page.goto(f"{live_server.url}/mappings/")
    page.get_by_label("User name").fill("data-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/mappings/")

    # The hold, as the data team sees it: an unknown SKU on return LOOP-5001.
    page.goto(where_the_hold_shows(live_server, ret))
    expect(page.get_by_text(PLATFORM_SKU).first).to_be_visible()

    # The SKU table: the search finds no row for the platform's SKU.
    page.goto(f"{live_server.url}/mappings/")
    page.get_by_role("link", name="SKU mappings").first.click()
    expect(page.get_by_role("heading", name="SKU mappings")).to_be_visible()
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    search.fill("TEE-ORGANIC")
    expect(page).to_have_url(re.compile(r"q=TEE-ORGANIC"))
    expect(page.get_by_text("No rows match.")).to_be_visible()
    search.fill("RAINJKT")
    expect(page.get_by_role("cell", name="RAINJKT-STONE-M", exact=True)).to_be_visible()

    # Import a CSV with the missing row: the preview lists it as new and writes nothing.
    page.get_by_role("link", name="Import CSV or XLSX").click()
    page.get_by_label("CSV or XLSX file").set_input_files(
        {
            "name": "missing-skus.csv",
            "mimeType": "text/csv",
            "buffer": (
                "platform,platform_sku,stock_code\n"
                f"loop,{PLATFORM_SKU},HF-TEE-ORG-WHT-M\n"
                "loop,RAINJKT-STONE-M,HF-OUT-RNC-STN-M\n"
            ).encode(),
        }
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview of missing-skus.csv")).to_be_visible()
    expect(page.locator("tr[data-row='2']")).to_contain_text("new")
    expect(page.locator("tr[data-row='3']")).to_contain_text("unchanged")
    assert not SkuMapping.objects.filter(platform_sku=PLATFORM_SKU).exists()
    screenshot(page, "mappings.png", readme=True)

    page.get_by_role("button", name=re.compile("Confirm import")).click()
    expect(page.get_by_role("status")).to_contain_text("1 new")
    expect(page.get_by_role("heading", name="SKU mappings")).to_be_visible()

    # The held return has moved on: its case is closed and its posting is ready for Khaos.
    case.refresh_from_db()
    assert case.status == "resolved"
    assert ret.postings.get().state == PostingState.READY
    page.goto(where_the_hold_shows(live_server, ret))
    if "/api/" in page.url:
        expect(page.get_by_text(PLATFORM_SKU)).to_have_count(0)

    # The new row's history says who added it, and what.
    page.goto(f"{live_server.url}/mappings/skus/?q={PLATFORM_SKU}")
    page.get_by_role("link", name=re.compile("^History")).first.click()
    expect(page.get_by_role("cell", name="added")).to_be_visible()
    expect(page.get_by_role("cell", name="data-user")).to_be_visible()
    expect(page.locator("ins", has_text="HF-TEE-ORG-WHT-M")).to_be_visible()
