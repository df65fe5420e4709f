"""Finance in a real browser (Debian's chromium driven by Playwright) against a live hub:
upload the credit note export with its preview, import it, match the hand-raised note."""

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from reconciliation.choices import PackStatus
from reconciliation.models import Acceptance, CreditNote, MatchMethod, MonthEndPack
from returns_hub.choices import PostingState
from tests.reconciliation.conftest import EXPECTED, EXPORT, served_posting
from tests.screens.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base: str, url: str) -> None:
    page.goto(f"{base}{url}")
    page.get_by_label("User name").fill("finance-user")
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}{url}")


def test_finance_uploads_previews_imports_and_matches_by_hand(live_server, page, role_users):
    for ref, (order, amount) in EXPECTED.items():
        served_posting(ref, order, amount)
    hand_posting = served_posting("LOOP-7777", "7777", "15.00")
    base = live_server.url

    _log_in(page, base, "/finance/credit-notes/upload/")
    page.get_by_label("Credit note export").set_input_files(str(EXPORT))
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Preview of credit_note_export.csv")).to_be_visible()
    expect(page.locator('[data-figure="rows"]')).to_have_text("9")
    expect(page.locator('[data-figure="new"]')).to_have_text("9")
    expect(page.locator('[data-figure="by-ref"]')).to_have_text("8")
    expect(page.locator('[data-figure="unmatched"]')).to_have_text("1")
    expect(page.locator('[data-figure="refused"]')).to_have_text("0")
    expect(page.get_by_role("cell", name="CN0010486")).to_be_visible()
    screenshot(page, "finance-credit-note-preview.png")
    assert not CreditNote.objects.exists()  # nothing written before "Import"

    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported credit_note_export.csv")).to_be_visible()
    expect(page.locator('[data-figure="matched"]')).to_have_text("8")
    expect(page.locator('[data-figure="confirmed"]')).to_have_text("8")
    screenshot(page, "finance-credit-note-imported.png")
    assert CreditNote.objects.count() == 9

    page.get_by_role("row", name="CN0010488").get_by_role("link", name="Match by hand").click()
    expect(page.get_by_role("heading", name="Match credit note CN0010488 by hand")).to_be_visible()
    page.get_by_role("button", name="Match to LOOP-7777").click()
    expect(page.get_by_text("matched by hand to LOOP-7777")).to_be_visible()
    expect(page.get_by_text("Matched to LOOP-7777")).to_be_visible()
    screenshot(page, "finance-matched-by-hand.png")

    note = CreditNote.objects.get(code="CN0010488")
    assert note.posting_id == hand_posting.pk and note.match_method == MatchMethod.MANUAL
    assert note.matched_by_user == role_users["finance"]
    hand_posting.refresh_from_db()
    assert hand_posting.state == PostingState.CONFIRMED


def test_finance_builds_and_downloads_the_month_end_pack(live_server, page, role_users):
    base = live_server.url
    _log_in(page, base, "/finance/month-end-packs/")
    page.get_by_label("Period").fill("2025-03")
    page.get_by_role("button", name="Build the month-end pack").click()
    expect(page.get_by_role("heading", name="Month-end pack 2025-03")).to_be_visible()
    # Built by the task (in-process in tests); the page follows it until it is done.
    expect(page.locator(".pack-status")).to_have_text("Done", timeout=20_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the pack (ZIP)").click()
    assert download.value.suggested_filename.endswith(".zip")
    screenshot(page, "finance-month-end-pack.png")


def test_finance_adds_a_rule_and_applies_the_rules(live_server, page, role_users):
    base = live_server.url
    _log_in(page, base, "/finance/rules/")
    page.get_by_role("link", name="Add a rule").click()
    page.get_by_label("Name").fill("Loop pennies")
    page.get_by_label("Cause").select_option("credit_note_differs")
    page.get_by_label("Platform").select_option("loop")
    page.get_by_label("Currency").fill("gbp")
    page.get_by_label("Auto-accept up to").fill("1.00")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("three capital letters")).to_be_visible()

    page.get_by_label("Currency").fill("GBP")
    page.get_by_role("button", name="Add rule").click()
    expect(page).to_have_url(f"{base}/finance/rules/")
    expect(page.get_by_role("cell", name="Loop pennies", exact=True)).to_be_visible()
    page.get_by_role("button", name="Apply rules now").click()
    expect(page.get_by_text("being applied in the background")).to_be_visible()
    screenshot(page, "finance-rules.png")


def test_the_pack_page_follows_the_build_without_a_reload(live_server, page, role_users):
    pack = MonthEndPack.objects.create(
        period="2025-02", status=PackStatus.RUNNING, progress=30, rows=300
    )
    base = live_server.url
    _log_in(page, base, f"/finance/month-end-packs/{pack.pk}/")
    expect(page.locator(".pack-status")).to_have_text("Running")
    expect(page.get_by_text("30% · 300 rows written")).to_be_visible()

    MonthEndPack.objects.filter(pk=pack.pk).update(progress=70, rows=700)
    expect(page.get_by_text("70% · 700 rows written")).to_be_visible(timeout=6_000)
    MonthEndPack.objects.filter(pk=pack.pk).update(status=PackStatus.FAILED, error="disk full")
    expect(page.locator(".pack-status")).to_have_text("Failed", timeout=6_000)
    expect(page.get_by_text("could not be built: disk full")).to_be_visible()
    expect(page).to_have_url(f"{base}/finance/month-end-packs/{pack.pk}/")  # never reloaded


def test_finance_accepts_a_difference_from_the_list_with_a_note(live_server, page, role_users):
    note = CreditNote.objects.create(
        code="CN0010488",
        associated_ref="",
        issued_on=date(2025, 3, 12),
        currency="GBP",
        net=Decimal("12.50"),
        tax=Decimal("2.50"),
        gross=Decimal("15.00"),
    )
    key = f"raised_by_hand:{note.pk}"
    listed = "/finance/differences/?cause=raised_by_hand"
    base = live_server.url
    _log_in(page, base, listed)
    page.get_by_label(f"Why {key} is accepted").fill("Goodwill credit, agreed by phone")
    page.get_by_role("button", name=f"Accept {key}").click()
    expect(page).to_have_url(f"{base}{listed}")  # back where finance was
    expect(page.get_by_role("button", name=f"Accept {key}")).to_have_count(0)
    acceptance = Acceptance.objects.get()
    assert acceptance.key == key and acceptance.note == "Goodwill credit, agreed by phone"
    assert acceptance.accepted_by_user == role_users["finance"]
