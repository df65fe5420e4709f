"""/finance/ screens that change something: who may use them, and what they do."""

import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reconciliation.choices import DifferenceCause, ImportStatus, PackStatus
from reconciliation.models import (
    Acceptance,
    CreditNote,
    CreditNoteImport,
    MatchMethod,
    MonthEndPack,
    ReconciliationRule,
)
from returns_hub.choices import PostingState
from tests import factories
from tests.reconciliation.conftest import EXPECTED, EXPORT, served_posting

pytestmark = pytest.mark.django_db

ALLOWED = ["finance", "admin"]
DENIED = ["warehouse", "cx", "data", "nobody"]
HEADER = "Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"


@pytest.fixture
def as_role(role_users):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(role_users[role])
        return client

    return make


@pytest.fixture
def finance(as_role):
    return as_role("finance")


@pytest.fixture
def hub_postings(db):
    return {ref: served_posting(ref, order, amount) for ref, (order, amount) in EXPECTED.items()}


def hand_raised_note(**fields) -> CreditNote:
    values = {
        "code": "CN0010488",
        "return_code": "SR0007738",
        "associated_ref": "",
        "issued_on": date(2025, 3, 12),
        "currency": "GBP",
        "net": Decimal("12.50"),
        "tax": Decimal("2.50"),
        "gross": Decimal("15.00"),
        "unmatched_reason": "Raised by hand in Khaos: no Associated Ref.",
    }
    return CreditNote.objects.create(**{**values, **fields})


def rule(**fields) -> ReconciliationRule:
    values = {"sequence": 10, "name": "Pennies", "cause": DifferenceCause.CREDIT_NOTE_DIFFERS}
    return ReconciliationRule.objects.create(**{**values, **fields})


def export_file(name: str = "credit_note_export.csv"):
    handle = io.BytesIO(EXPORT.read_bytes())
    handle.name = name
    return handle


def csv_file(*rows: str, name: str = "export.csv"):
    handle = io.BytesIO((HEADER + "".join(row + "\r\n" for row in rows)).encode())
    handle.name = name
    return handle


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who may use the screens ---------------------------------------------------------


@pytest.fixture
def things(db, role_users):
    """One of everything the screens name in their URLs."""
    note = hand_raised_note()
    record = CreditNoteImport.objects.create(file_name="old.csv", status=ImportStatus.APPLIED)
    return {
        "note": note,
        "import": record,
        "rule": rule(),
        "pack": MonthEndPack.objects.create(period="2025-03", status=PackStatus.DONE),
    }


def pages(things) -> list[str]:
    return [
        reverse("finance:upload-credit-notes"),
        reverse("finance:credit-note-import", args=[things["import"].pk]),
        reverse("finance:match-credit-note", args=[things["note"].code]),
        reverse("finance:rules"),
        reverse("finance:rule-add"),
        reverse("finance:rule-edit", args=[things["rule"].pk]),
        reverse("finance:month-end-pack"),
        reverse("finance:month-end-pack-status", args=[things["pack"].pk]),
    ]


def posts(things) -> list[tuple[str, dict]]:
    return [
        (reverse("finance:upload-credit-notes"), {"file": export_file()}),
        (reverse("finance:apply-credit-note-import", args=[things["import"].pk]), {}),
        (reverse("finance:cancel-credit-note-import", args=[things["import"].pk]), {}),
        (reverse("finance:match-credit-note", args=[things["note"].code]), {"posting": 1}),
        (
            reverse("finance:accept-difference"),
            {"key": f"raised_by_hand:{things['note'].pk}", "note": "written off"},
        ),
        (reverse("finance:reopen-difference"), {"key": f"raised_by_hand:{things['note'].pk}"}),
        (reverse("finance:rule-add"), {"sequence": 5, "name": "x", "cause": "raised_by_hand"}),
        (reverse("finance:rule-edit", args=[things["rule"].pk]), {"name": "changed"}),
        (reverse("finance:rule-active", args=[things["rule"].pk]), {"active": "0"}),
        (reverse("finance:rule-move", args=[things["rule"].pk]), {"direction": "up"}),
        (reverse("finance:apply-rules"), {}),
        (reverse("finance:month-end-pack"), {"period": "2025-03"}),
    ]


@pytest.mark.parametrize("role", ALLOWED)
def test_finance_and_admin_see_every_screen(as_role, things, role):
    client = as_role(role)
    for url in pages(things):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", DENIED)
def test_other_teams_are_refused_every_screen_and_change(as_role, things, role):
    client = as_role(role)
    for url in pages(things):
        assert client.get(url).status_code == 403, url
    notes, rules = list(CreditNote.objects.values()), list(ReconciliationRule.objects.values())
    for url, data in posts(things):
        assert client.post(url, data).status_code == 403, url
    assert list(CreditNote.objects.values()) == notes
    assert list(ReconciliationRule.objects.values()) == rules
    assert not Acceptance.objects.exists()
    assert MonthEndPack.objects.count() == 1
    assert CreditNoteImport.objects.count() == 1
    download = reverse("finance:month-end-pack-download", args=[things["pack"].pk])
    assert client.get(download).status_code == 403


def test_anyone_not_logged_in_is_sent_to_log_in(client, things):
    for url in pages(things):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login") + "?next="), url
    for url, data in posts(things):
        response = client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    assert not Acceptance.objects.exists()


def test_every_change_needs_its_csrf_token(role_users, things):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["finance"])
    for url, data in posts(things):
        assert client.post(url, data).status_code == 403, url
    assert not Acceptance.objects.exists()
    assert MonthEndPack.objects.count() == 1


# --- upload with a preview -----------------------------------------------------------


def test_upload_previews_then_imports_once(finance, hub_postings):
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": export_file()})
    assert response.status_code == 302
    record = CreditNoteImport.objects.get()
    assert record.status == ImportStatus.PREVIEWED
    assert response.url == reverse("finance:credit-note-import", args=[record.pk])
    assert not CreditNote.objects.exists()  # a preview writes no credit note

    page = finance.get(response.url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Preview" in text and "nothing is written yet" in text
    shown = page.context["preview"]
    assert shown["rows"] == 9 and shown["new"] == 9 and shown["unchanged"] == 0
    assert shown["would_match_by_ref"] == 8 and shown["would_match_by_order"] == 0
    assert shown["would_stay_unmatched"] == 1 and shown["refused"] == 0
    assert '<strong data-figure="by-ref">8</strong>' in text
    assert "CN0010486" in text and "RB-884512" in text  # the sample, with its match
    assert reverse("finance:apply-credit-note-import", args=[record.pk]) in text
    assert not CreditNote.objects.exists()
    for posting in hub_postings.values():
        posting.refresh_from_db()
        assert posting.state == PostingState.DOWNLOADED

    applied = finance.post(reverse("finance:apply-credit-note-import", args=[record.pk]))
    assert applied.status_code == 302
    assert "9 new" in said(applied)[0]
    assert CreditNote.objects.count() == 9
    assert CreditNote.objects.filter(posting__isnull=False).count() == 8
    for posting in hub_postings.values():
        posting.refresh_from_db()
        assert posting.state == PostingState.CONFIRMED
    result = finance.get(applied.url)
    text = result.content.decode()
    assert "Imported credit_note_export.csv" in text
    assert '<strong data-figure="confirmed">8</strong>' in text
    match_url = reverse("finance:match-credit-note", args=["CN0010488"])
    assert match_url in text  # the unmatched note, one click from matching it

    notes = list(CreditNote.objects.order_by("pk").values())
    again = finance.post(reverse("finance:apply-credit-note-import", args=[record.pk]))
    assert again.status_code == 302
    assert list(CreditNote.objects.order_by("pk").values()) == notes
    assert CreditNoteImport.objects.count() == 1
    assert "nothing new was written" in said(again)[0]


def test_the_same_file_previewed_again_is_all_unchanged(finance, hub_postings):
    first = finance.post(reverse("finance:upload-credit-notes"), {"file": export_file()})
    finance.post(
        reverse("finance:apply-credit-note-import", args=[CreditNoteImport.objects.get().pk])
    )
    assert first.status_code == 302
    second = finance.post(reverse("finance:upload-credit-notes"), {"file": export_file()})
    shown = finance.get(second.url).context["preview"]
    assert shown["new"] == 0 and shown["unchanged"] == 9 and shown["applied_before"]
    record = CreditNoteImport.objects.order_by("-pk").first()
    applied = finance.post(reverse("finance:apply-credit-note-import", args=[record.pk]))
    assert "0 new, 9 unchanged" in said(applied)[0]
    assert CreditNote.objects.count() == 9


def test_refused_rows_are_listed_with_their_row_and_why(finance, db):
    data = csv_file(
        "CN1,SR1,LOOP-1,05/03/2025,GBP,10.00,2.00,12.00",
        "CN2,SR2,LOOP-2,31/02/2025,GBP,10.00,2.00,12.00",
        "CN3,SR3,LOOP-3,05/03/2025,GBP,10.00,2.00,13.00",
    )
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": data})
    page = finance.get(response.url)
    text = page.content.decode()
    assert page.context["preview"]["refused"] == 2
    assert "31/02/2025" in text and "is not Gross" in text
    rows = [refusal["row"] for refusal in page.context["refusals"]]
    assert rows == [3, 4]
    assert not CreditNote.objects.exists()


def test_a_file_that_is_not_the_export_is_refused_and_writes_nothing(finance, db):
    bad = io.BytesIO(b"Code,Amount\r\nCN1,12.00\r\n")
    bad.name = "wrong.csv"
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": bad})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Refused, nothing imported" in text and "missing" in text
    assert not CreditNote.objects.exists()
    assert not CreditNoteImport.objects.filter(status=ImportStatus.PREVIEWED).exists()


def test_a_preview_seen_from_another_session_is_read_again(finance, as_role, hub_postings):
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": export_file()})
    shown = as_role("admin").get(response.url).context["preview"]
    assert shown["new"] == 9 and shown["would_match_by_ref"] == 8
    assert not CreditNote.objects.exists()


def test_cancelling_a_preview_imports_nothing(finance, hub_postings):
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": export_file()})
    record = CreditNoteImport.objects.get()
    cancelled = finance.post(reverse("finance:cancel-credit-note-import", args=[record.pk]))
    assert cancelled.url == reverse("finance:upload-credit-notes")
    assert not CreditNoteImport.objects.exists()
    assert not CreditNote.objects.exists()
    assert finance.get(response.url).status_code == 404


def test_an_xlsx_export_previews_too(finance, hub_postings):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for line in EXPORT.read_text().splitlines():
        sheet.append(line.split(","))
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    data.name = "credit_notes.xlsx"
    response = finance.post(reverse("finance:upload-credit-notes"), {"file": data})
    assert response.status_code == 302
    shown = finance.get(response.url).context["preview"]
    assert shown["rows"] == 9 and shown["would_match_by_ref"] == 8
    assert not CreditNote.objects.exists()


# --- match by hand -------------------------------------------------------------------


def test_match_by_hand_confirms_the_posting_and_records_who(finance, role_users, db):
    note = hand_raised_note()
    posting = served_posting("LOOP-7777", "7777", "15.00")
    served_posting("LOOP-7778", "7778", "99.00")  # too far from 15.00 to be offered
    page = finance.get(reverse("finance:match-credit-note", args=[note.code]))
    offered = [p.associated_ref for p in page.context["candidates"].postings]
    assert offered == ["LOOP-7777"]

    by_order = finance.get(
        reverse("finance:match-credit-note", args=[note.code]), {"q": "7778", "within": ""}
    )
    assert [p.associated_ref for p in by_order.context["candidates"].postings] == ["LOOP-7778"]

    response = finance.post(
        reverse("finance:match-credit-note", args=[note.code]), {"posting": posting.pk}
    )
    assert response.status_code == 302
    assert "matched by hand to LOOP-7777" in said(response)[0]
    note.refresh_from_db()
    posting.refresh_from_db()
    assert note.posting == posting
    assert note.match_method == MatchMethod.MANUAL
    assert note.matched_by_user == role_users["finance"] and note.matched_by == "finance-user"
    assert note.difference == Decimal("0.00")
    assert posting.state == PostingState.CONFIRMED
    shown = finance.get(reverse("finance:match-credit-note", args=[note.code]))
    assert "Matched to" in shown.content.decode() and shown.context["candidates"] is None


def test_matching_from_a_list_goes_back_to_it(finance, db):
    note = hand_raised_note()
    posting = served_posting("LOOP-7777", "7777", "15.00")
    url = reverse("finance:match-credit-note", args=[note.code])
    page = finance.get(url, {"next": "/finance/credit-notes/?matched=no"})
    assert [p.associated_ref for p in page.context["candidates"].postings] == ["LOOP-7777"]
    assert 'name="next" value="/finance/credit-notes/?matched=no"' in page.content.decode()
    response = finance.post(
        url, {"posting": posting.pk, "next": "/finance/credit-notes/?matched=no"}
    )
    assert response.url == "/finance/credit-notes/?matched=no"


def test_a_refused_match_shows_why(finance, db):
    note = hand_raised_note()
    posting = served_posting("LOOP-7777", "7777", "15.00")
    other = hand_raised_note(code="CN0000002")
    finance.post(reverse("finance:match-credit-note", args=[other.code]), {"posting": posting.pk})
    response = finance.post(
        reverse("finance:match-credit-note", args=[note.code]),
        {"posting": posting.pk},
        follow=True,
    )
    text = response.content.decode()
    assert "Not matched" in text and "already matched to CN0000002" in text
    note.refresh_from_db()
    assert note.posting_id is None


def test_only_postings_khaos_has_in_the_notes_currency_are_offered(finance, db):
    note = hand_raised_note()
    served_posting("LOOP-1", "1", "15.00", state=PostingState.HELD)
    served_posting("LOOP-2", "2", "15.00").__class__.objects.filter(associated_ref="LOOP-2").update(
        currency="EUR"
    )
    served_posting("LOOP-3", "3", "15.00", state=PostingState.CONFIRMED)
    page = finance.get(reverse("finance:match-credit-note", args=[note.code]))
    assert [p.associated_ref for p in page.context["candidates"].postings] == ["LOOP-3"]


def test_candidates_come_fifty_at_a_time(finance, db, django_assert_max_num_queries):
    note = hand_raised_note()
    for n in range(55):
        served_posting(f"LOOP-{n}", str(n), "15.00")
    url = reverse("finance:match-credit-note", args=[note.code])
    with django_assert_max_num_queries(12):
        page = finance.get(url)
    first = page.context["candidates"].postings
    assert len(first) == 50
    older = finance.get(f"{url}?{page.context['older_query']}")
    rest = older.context["candidates"].postings
    assert len(rest) == 5 and older.context["older_query"] is None
    assert {p.pk for p in first}.isdisjoint({p.pk for p in rest})


# --- accept and reopen a difference --------------------------------------------------


def test_accept_a_difference_with_a_note_then_reopen_it(finance, role_users, db):
    note = hand_raised_note()
    key = f"raised_by_hand:{note.pk}"
    back = "/finance/?cause=raised_by_hand"
    response = finance.post(
        reverse("finance:accept-difference"),
        {"key": key, "note": "Goodwill credit agreed by phone", "next": back},
    )
    assert response.status_code == 302 and response.url == back
    acceptance = Acceptance.objects.get()
    assert acceptance.key == key
    assert acceptance.accepted_by_user == role_users["finance"]
    assert acceptance.note == "Goodwill credit agreed by phone"
    assert acceptance.amount == Decimal("15.00")
    assert f"{key} accepted" in said(response)[0]

    reopened = finance.post(reverse("finance:reopen-difference"), {"key": key, "next": back})
    assert reopened.status_code == 302 and reopened.url == back
    assert not Acceptance.objects.exists()
    assert "reopened" in said(reopened)[-1]


def test_an_acceptance_needs_a_note(finance, db):
    note = hand_raised_note()
    response = finance.post(
        reverse("finance:accept-difference"), {"key": f"raised_by_hand:{note.pk}", "note": "  "}
    )
    assert response.status_code == 302
    assert "a note is required" in said(response)[0]
    assert not Acceptance.objects.exists()


def test_a_difference_that_is_not_there_is_not_accepted(finance, db):
    response = finance.post(
        reverse("finance:accept-difference"), {"key": "raised_by_hand:999999", "note": "why"}
    )
    assert "Not accepted" in said(response)[0]
    assert not Acceptance.objects.exists()


def test_next_must_stay_on_this_site(finance, db):
    note = hand_raised_note()
    response = finance.post(
        reverse("finance:accept-difference"),
        {"key": f"raised_by_hand:{note.pk}", "note": "why", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and "evil" not in response.url


def rule_data(**fields) -> dict:
    values = {
        "sequence": "20",
        "name": "Loop pennies",
        "cause": DifferenceCause.CREDIT_NOTE_DIFFERS,
        "platform": "loop",
        "currency": "GBP",
        "tolerance": "0.05",
        "auto_accept_up_to": "1.00",
        "active": "on",
        "note": "Rounding on Loop's tax lines",
    }
    return {**values, **fields}


def test_finance_adds_and_edits_a_rule_with_its_history(finance, role_users, db):
    response = finance.post(reverse("finance:rule-add"), rule_data())
    assert response.status_code == 302 and response.url == reverse("finance:rules")
    added = ReconciliationRule.objects.get()
    assert added.tolerance == Decimal("0.05") and added.auto_accept_up_to == Decimal("1.00")
    assert added.platform == "loop" and added.updated_by == role_users["finance"]

    edited = finance.post(
        reverse("finance:rule-edit", args=[added.pk]),
        rule_data(auto_accept_up_to="2.50", active=""),
    )
    assert edited.status_code == 302
    added.refresh_from_db()
    assert added.auto_accept_up_to == Decimal("2.50") and not added.active
    assert added.history.count() == 2
    assert {v.history_user for v in added.history.all()} == {role_users["finance"]}

    listed = finance.get(reverse("finance:rules")).content.decode()
    assert "Loop pennies" in listed
    assert "auto_accept_up_to 1.00 → 2.50" in listed and "active True → False" in listed
    page = finance.get(reverse("finance:rule-edit", args=[added.pk]))
    assert "auto_accept_up_to 1.00 → 2.50" in page.content.decode()
    assert [change.kind for change in page.context["changes"]] == ["changed", "created"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tolerance", "-0.01", "cannot be negative"),
        ("auto_accept_up_to", "-5", "cannot be negative"),
        ("currency", "gbp", "three capital letters"),
        ("currency", "GB", "three capital letters"),
        ("name", "", "This field is required"),
        ("tolerance", "0.001", "decimal places"),
        ("cause", "nonsense", "Select a valid choice"),
        ("cause", "raised_by_hand", "applies only to value differences"),
    ],
)
def test_a_rule_with_a_mistake_is_refused_saying_why(finance, db, field, value, message):
    response = finance.post(reverse("finance:rule-add"), rule_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReconciliationRule.objects.exists()


def test_rules_are_listed_in_the_order_they_apply_and_can_be_moved(finance, db):
    third = rule(sequence=30, name="Third")
    first = rule(sequence=10, name="First")
    second = rule(sequence=10, name="Second")  # same sequence: the older rule first
    page = finance.get(reverse("finance:rules"))
    assert [r.name for r in page.context["rules"]] == ["First", "Second", "Third"]
    assert [r.position for r in page.context["rules"]] == [1, 2, 3]

    finance.post(reverse("finance:rule-move", args=[third.pk]), {"direction": "up"})
    page = finance.get(reverse("finance:rules"))
    assert [r.name for r in page.context["rules"]] == ["First", "Third", "Second"]
    finance.post(reverse("finance:rule-move", args=[first.pk]), {"direction": "up"})  # stays
    finance.post(reverse("finance:rule-move", args=[first.pk]), {"direction": "down"})
    page = finance.get(reverse("finance:rules"))
    assert [r.name for r in page.context["rules"]] == ["Third", "First", "Second"]
    second.refresh_from_db()
    assert second.sequence == 30


def test_deactivating_a_rule_keeps_it(finance, db):
    pennies = rule()
    finance.post(reverse("finance:rule-active", args=[pennies.pk]), {"active": "0"})
    pennies.refresh_from_db()
    assert not pennies.active
    listed = finance.get(reverse("finance:rules"))
    assert listed.context["rules"] == [pennies] and "Activate" in listed.content.decode()
    finance.post(reverse("finance:rule-active", args=[pennies.pk]), {"active": "1"})
    pennies.refresh_from_db()
    assert pennies.active
    assert pennies.history.count() == 3


def test_apply_rules_now_runs_the_task(finance, db):
    # A credit note raised by hand for 0.40, and a rule accepting such notes up to 0.50.
    note = hand_raised_note(code="CN1", gross=Decimal("0.40"), net="0.40", tax="0.00")
    rule(cause=DifferenceCause.RAISED_BY_HAND, auto_accept_up_to=Decimal("0.50"))
    response = finance.post(reverse("finance:apply-rules"), follow=True)
    assert "being applied" in response.content.decode()
    acceptance = Acceptance.objects.get()  # tests run django-q in-process (sync)
    assert acceptance.key == f"raised_by_hand:{note.pk}" and acceptance.rule is not None


def test_the_rules_list_costs_the_same_queries_for_many_rules(finance, db):
    rule(name="One")

    def count() -> int:
        from django.db import connection

        with CaptureQueriesContext(connection) as queries:
            assert finance.get(reverse("finance:rules")).status_code == 200
        return len(queries)

    few = count()
    for n in range(8):
        made = rule(sequence=20 + n, name=f"Rule {n}")
        made.tolerance = Decimal("0.10")
        made.save()
    assert count() == few
    assert few <= 6  # session, user, two permission reads, the rules, their history


# --- month-end pack ------------------------------------------------------------------


def test_the_pack_button_builds_a_pack_that_finance_downloads(
    finance, as_role, role_users, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = finance.post(reverse("finance:month-end-pack"), {"period": "2025-03"})
    pack = MonthEndPack.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("finance:month-end-pack-status", args=[pack.pk])
    assert pack.period == "2025-03" and pack.requested_by == role_users["finance"]
    pack.refresh_from_db()
    assert pack.status == PackStatus.DONE and pack.progress == 100  # django-q runs in-process

    status = finance.get(response.url)
    text = status.content.decode()
    assert "Done" in text
    download = reverse("finance:month-end-pack-download", args=[pack.pk])
    assert download in text
    assert 'hx-trigger="every 2s"' not in text  # finished: no more polling

    served = finance.get(download)
    assert served.status_code == 200
    assert served["Content-Type"] == "application/zip"
    assert "attachment" in served["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(served.streaming_content)))
    names = archive.namelist()
    assert any(name.endswith(".xlsx") for name in names)
    assert any(name.endswith(".csv") for name in names)
    assert as_role("admin").get(download).status_code == 200


def test_a_pack_being_built_polls_its_fragment(finance, role_users, db):
    pack = MonthEndPack.objects.create(
        period="2025-03", status=PackStatus.RUNNING, progress=40, rows=1200
    )
    url = reverse("finance:month-end-pack-status", args=[pack.pk])
    page = finance.get(url).content.decode()
    assert f'hx-get="{url}"' in page and 'hx-trigger="every 2s"' in page
    assert "40%" in page and "1200 rows" in page
    fragment = finance.get(url, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and "40%" in body and 'id="pack-progress"' in body
    download = reverse("finance:month-end-pack-download", args=[pack.pk])
    assert download not in body
    assert finance.get(download).status_code == 404


def test_a_pack_period_must_be_a_month(finance, db):
    response = finance.post(reverse("finance:month-end-pack"), {"period": "2025-13"})
    assert response.status_code == 400
    assert "not a month" in response.content.decode()
    assert not MonthEndPack.objects.exists()


def test_the_pack_list_costs_the_same_queries_for_many_packs(finance, role_users, db):
    MonthEndPack.objects.create(period="2025-01", requested_by=role_users["finance"])

    def count() -> int:
        from django.db import connection

        with CaptureQueriesContext(connection) as queries:
            assert finance.get(reverse("finance:month-end-pack")).status_code == 200
        return len(queries)

    few = count()
    for month in range(2, 12):
        user = factories.UserFactory()
        MonthEndPack.objects.create(period=f"2025-{month:02d}", requested_by=user)
    assert count() == few
    assert few <= 5  # session, user, two permission reads, the packs with who asked
