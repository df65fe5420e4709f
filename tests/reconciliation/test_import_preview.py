"""A credit note file previewed first (kept, nothing else written), then applied once."""

import hashlib
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from reconciliation import importers
from reconciliation.choices import ImportStatus
from reconciliation.importers import FileRefused, apply_preview, import_credit_notes, preview
from reconciliation.models import CreditNote, CreditNoteImport
from returns_hub.choices import ExceptionKind, PostingState
from returns_hub.models import ExceptionCase, Posting, TimelineEntry
from tests.concurrency import at_once
from tests.reconciliation.conftest import EXPECTED, EXPORT, served_posting

pytestmark = pytest.mark.django_db

HEADER = "Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"
URL = "/api/v1/reconciliation/credit-notes/"


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\r\n" for row in rows)).encode()


def preview_bytes(data: bytes, name="export.csv", **kwargs):
    return preview(io.BytesIO(data), file_name=name, **kwargs)


def state_of_the_hub() -> dict:
    """What an import may change: notes, postings, open exceptions, timeline."""
    return {
        "notes": CreditNote.objects.count(),
        "postings": sorted(Posting.objects.values_list("associated_ref", "state")),
        "open_unconfirmed": ExceptionCase.objects.filter(
            kind=ExceptionKind.POSTING_UNCONFIRMED, resolved_at__isnull=True
        ).count(),
        "timeline": TimelineEntry.objects.count(),
    }


def notes_as_imported() -> list[dict]:
    """The notes with what does not depend on which import wrote them."""
    ignored = {"id", "source_id", "matched_at"}
    return [
        {k: v for k, v in note.items() if k not in ignored}
        for note in CreditNote.objects.order_by("code").values()
    ]


COUNTS = ("rows", "new", "unchanged", "matched", "unmatched", "refused", "confirmed")


def test_a_preview_writes_nothing_but_the_kept_file(hub_postings):
    before = state_of_the_hub()
    data = EXPORT.read_bytes()
    result = preview_bytes(data, name="credit_note_export.csv")
    assert state_of_the_hub() == before
    assert {p.state for p in Posting.objects.all()} == {PostingState.DOWNLOADED}
    assert (result.rows, result.new, result.unchanged, result.refused) == (9, 9, 0, 0)
    assert (result.would_match_by_ref, result.would_match_by_order) == (8, 0)
    assert result.would_stay_unmatched == 1 and result.applied_before is None
    sample = {note["code"]: note for note in result.sample}
    assert len(sample) == 9 and sample["CN0010486"]["row"] == 7
    rb = next(note for note in result.sample if note["posting"] == "RB-884512")
    assert (rb["match_method"], rb["expected_credit"], rb["difference"]) == (
        "associated_ref",
        "179.00",
        "-5.00",
    )
    assert "by hand" in sample["CN0010488"]["unmatched_reason"]

    record = CreditNoteImport.objects.get(pk=result.import_id)
    assert record.status == ImportStatus.PREVIEWED and record.applied_at is None
    assert record.sha256 == hashlib.sha256(data).hexdigest() and record.encoding == "utf-8"
    assert record.file.read() == data
    assert (record.rows, record.new, record.matched, record.unmatched) == (9, 9, 8, 1)
    as_dict = result.as_dict()
    assert as_dict["import_id"] == record.pk and as_dict["status"] == "previewed"
    assert as_dict["would_match_by_ref"] == 8 and len(as_dict["sample"]) == 9
    # Shown again (the upload page after a redirect): the same, from the kept file.
    assert importers.preview_of(record.pk).as_dict() == as_dict
    assert state_of_the_hub() == before


def test_applying_a_preview_gives_exactly_the_direct_import(hub_postings):
    with transaction.atomic():
        direct = import_credit_notes(EXPORT.open("rb"), file_name="direct.csv").as_dict()
        direct_notes, direct_hub = notes_as_imported(), state_of_the_hub()
        transaction.set_rollback(True)
    assert not CreditNote.objects.exists()

    shown = preview(EXPORT.open("rb"), file_name="credit_note_export.csv")
    applied = apply_preview(shown.import_id).as_dict()
    assert {k: applied[k] for k in COUNTS} == {k: direct[k] for k in COUNTS}
    assert applied["matched"] == shown.would_match_by_ref + shown.would_match_by_order
    assert applied["unmatched"] == shown.would_stay_unmatched
    assert notes_as_imported() == direct_notes and state_of_the_hub() == direct_hub
    record = CreditNoteImport.objects.get(pk=shown.import_id)
    assert record.status == ImportStatus.APPLIED and record.applied_at is not None
    assert set(record.notes.values_list("code", flat=True)) == {n["code"] for n in direct_notes}
    for posting in hub_postings.values():
        posting.refresh_from_db()
        assert posting.state == PostingState.CONFIRMED


def test_applying_twice_applies_once_and_returns_the_stored_result(hub_postings):
    shown = preview(EXPORT.open("rb"), file_name="credit_note_export.csv")
    first = apply_preview(shown.import_id)
    after_first = (notes_as_imported(), state_of_the_hub())
    second = apply_preview(shown.import_id)
    assert not first.already_applied and second.already_applied
    assert (notes_as_imported(), state_of_the_hub()) == after_first
    same = {k: v for k, v in first.as_dict().items() if k != "already_applied"}
    assert {k: v for k, v in second.as_dict().items() if k != "already_applied"} == same
    # A preview of the same bytes again says so, and finds nothing new.
    again = preview(EXPORT.open("rb"), file_name="again.csv")
    assert (again.new, again.unchanged, again.applied_before) == (0, 9, shown.import_id)
    assert again.would_match_by_ref == 8 and again.would_stay_unmatched == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_one_preview_apply_it_once():
    for ref, (order, amount) in EXPECTED.items():
        served_posting(ref, order, amount)
    shown = preview(EXPORT.open("rb"), file_name="credit_note_export.csv")
    results, errors = at_once(lambda: apply_preview(shown.import_id))
    assert not errors, errors
    assert sorted(result.already_applied for result in results) == [False, True]
    assert CreditNote.objects.count() == 9
    assert TimelineEntry.objects.filter(kind="posting_confirmed").count() == 8
    assert CreditNoteImport.objects.get(pk=shown.import_id).status == ImportStatus.APPLIED


def test_a_refused_file_is_kept_and_its_preview_cannot_be_applied(hub_postings):
    data = b"Order,Amount\r\n1,2\r\n"
    with pytest.raises(FileRefused, match="missing Credit Note Code") as refused:
        preview_bytes(data, name="orders.csv")
    record = CreditNoteImport.objects.get(pk=refused.value.import_id)
    assert record.status == ImportStatus.REFUSED and record.file.read() == data
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert "missing Credit Note Code" in record.refusals[0]["reason"]
    with pytest.raises(FileRefused, match="missing Credit Note Code"):
        apply_preview(record.pk)
    assert not CreditNote.objects.exists()
    with pytest.raises(importers.ImportNotFound):
        apply_preview(record.pk + 1000)


def test_a_preview_counts_the_rows_the_import_would_refuse_and_the_order_matches(db):
    served_posting("LOOP-7001", "2001", "50.00")
    import_credit_notes(
        io.BytesIO(csv_bytes("CN0,SR0,,01/03/2025,GBP,10.00,2.00,12.00")), file_name="first.csv"
    )
    data = csv_bytes(
        "CN0,SR0,,01/03/2025,GBP,10.50,2.00,12.50",  # changed: refused, not overwritten
        "CN1,SR1,#2001,01/03/2025,GBP,41.67,8.33,50.00",  # by source order and amount
        "CN2,SR2,,31/02/2025,GBP,10.00,2.00,12.00",  # no such date
        "CN1,SR1,#2001,01/03/2025,GBP,41.67,8.33,50.00",  # twice in the file
    )
    shown = preview_bytes(data)
    assert (shown.rows, shown.new, shown.unchanged, shown.refused) == (4, 1, 0, 3)
    assert (shown.would_match_by_ref, shown.would_match_by_order) == (0, 1)
    refusals = {r.row: r.reason for r in shown.refusals}
    assert sorted(refusals) == [2, 4, 5] and "not overwritten" in refusals[2]
    assert CreditNote.objects.count() == 1
    applied = apply_preview(shown.import_id).as_dict()
    assert (applied["new"], applied["matched"], applied["refused"], applied["confirmed"]) == (
        1,
        1,
        3,
        1,
    )
    assert applied["refused_rows"] == [r.as_dict() for r in shown.refusals]


def test_a_posting_claimed_in_an_earlier_batch_is_not_matched_again_in_a_preview(db, monkeypatch):
    monkeypatch.setattr(importers, "BATCH", 2)
    served_posting("LOOP-7301", "2301", "50.00")
    data = csv_bytes(
        "CN1,SR1,LOOP-7301,01/03/2025,GBP,41.67,8.33,50.00",
        "CN2,SR2,,01/03/2025,GBP,1.00,0.00,1.00",
        "CN3,SR3,LOOP-7301,02/03/2025,GBP,41.67,8.33,50.00",  # batch 2: the same posting
    )
    shown = preview_bytes(data)
    assert (shown.would_match_by_ref, shown.would_stay_unmatched) == (1, 2)
    assert "already matched to credit note CN1" in shown.sample[2]["unmatched_reason"]
    applied = apply_preview(shown.import_id).as_dict()
    assert (applied["matched"], applied["unmatched"]) == (1, 2)
    assert "already matched to credit note CN1" in (
        CreditNote.objects.get(code="CN3").unmatched_reason
    )


def test_a_preview_matches_by_order_around_a_posting_an_earlier_batch_took(db, monkeypatch):
    """Two postings of one order fit; the first batch takes one, so a later note of the
    file matches the other, in the preview as in the import."""
    monkeypatch.setattr(importers, "BATCH", 2)
    first = served_posting("LOOP-7401", "2401", "50.00")
    second = served_posting("LOOP-7402", "2401", "50.00")
    data = csv_bytes(
        "CN1,SR1,LOOP-7401,01/03/2025,GBP,41.67,8.33,50.00",
        "CN2,SR2,,01/03/2025,GBP,1.00,0.00,1.00",
        "CN3,SR3,2401,02/03/2025,GBP,41.67,8.33,50.00",  # batch 2: by order and amount
    )
    shown = preview_bytes(data)
    assert (shown.would_match_by_ref, shown.would_match_by_order) == (1, 1)
    assert shown.sample[2]["posting"] == second.associated_ref
    apply_preview(shown.import_id)
    assert CreditNote.objects.get(code="CN1").posting_id == first.pk
    assert CreditNote.objects.get(code="CN3").posting_id == second.pk


def test_a_preview_makes_a_bounded_number_of_queries_whatever_its_size(db):
    from tests.conftest import sql_log

    def rows(n, prefix):
        return csv_bytes(
            *(
                f"{prefix}{i},SR{i},REF-{prefix}{i},01/03/2025,GBP,10.00,2.00,12.00"
                for i in range(n)
            )
        )

    with sql_log() as small:
        preview_bytes(rows(20, "A"))
    with sql_log() as large:
        shown = preview_bytes(rows(900, "B"))
    assert shown.new == 900 and shown.would_stay_unmatched == 900
    assert len(large) == len(small) <= 10
    assert not any(
        sql.lstrip().upper().startswith('INSERT INTO "RECONCILIATION_CREDITNOTE"') for sql in large
    )


# --- the API ---------------------------------------------------------------------------------


def test_the_api_previews_then_applies_once(hub_postings, api_client_for):
    api = api_client_for("finance")
    with EXPORT.open("rb") as upload:
        shown = api.post(f"{URL}?preview=true", {"file": upload}, format="multipart")
    assert shown.status_code == 200, shown.content
    body = shown.json()
    assert body["status"] == "previewed" and body["would_match_by_ref"] == 8
    assert body["would_stay_unmatched"] == 1 and len(body["sample"]) == 9
    assert not CreditNote.objects.exists()
    record = CreditNoteImport.objects.get(pk=body["import_id"])
    assert record.uploaded_by.username == "finance-user" and record.file.read() == (
        EXPORT.read_bytes()
    )

    applied = api.post(URL, {"apply": body["import_id"]}, format="multipart")
    assert applied.status_code == 201, applied.content
    assert applied.json()["matched"] == 8 and applied.json()["already_applied"] is False
    assert CreditNote.objects.get(code="CN0010486").matched_by == "finance-user"
    again = api.post(URL, {"apply": body["import_id"]})  # a form, as a second click sends it
    assert again.status_code == 200 and again.json()["already_applied"] is True
    assert again.json()["new"] == 9 and CreditNote.objects.count() == 9


def test_the_api_refuses_what_it_cannot_apply(api_client_for):
    api = api_client_for("finance")
    assert api.post(URL, {"apply": 999999}, format="multipart").status_code == 400
    assert api.post(URL, {}, format="multipart").status_code == 400
    upload = io.BytesIO(HEADER.encode() + b"CN1,SR1,\x81,01/03/2025,GBP,1.00,0.00,1.00\r\n")
    upload.name = "notes.csv"
    refused = api.post(f"{URL}?preview=true", {"file": upload}, format="multipart")
    assert refused.status_code == 400
    [import_id] = refused.json()["import_id"]
    assert "neither UTF-8 nor Windows-1252" in refused.json()["file"][0]
    again = api.post(URL, {"apply": import_id}, format="multipart")
    assert again.status_code == 400 and again.json()["import_id"] == [import_id]
    assert not CreditNote.objects.exists()
    assert api_client_for("cx").post(URL, {"apply": import_id}).status_code == 403


# --- the command -----------------------------------------------------------------------------


def test_the_command_previews_and_tells_its_progress(hub_postings, monkeypatch):
    from reconciliation.management.commands import import_credit_notes as command

    monkeypatch.setattr(command, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(importers, "BATCH", 2)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_credit_notes", str(EXPORT), "--preview", stdout=out, stderr=err)
    text = out.getvalue()
    assert "  would_match_by_ref: 8\n" in text and "  would_stay_unmatched: 1\n" in text
    assert "new row 7 CN0010486" in text and "Preview only" in text
    assert "… 2 rows read" in err.getvalue() and "… 8 rows read" in err.getvalue()
    assert not CreditNote.objects.exists()
    record = CreditNoteImport.objects.get()
    assert record.status == ImportStatus.PREVIEWED
    assert apply_preview(record.pk).record.confirmed == 8


# --- preview counts are the import's counts -------------------------------------------------

ROW = st.tuples(
    st.sampled_from(["CN1", "CN2", "CN3", "CN4", "CN5", ""]),
    st.sampled_from(["LOOP-1", "LOOP-2", "#9001", "9002", "", "NOPE"]),
    st.sampled_from(["01/03/2025", "31/02/2025"]),
    st.sampled_from([("41.67", "8.33", "50.00"), ("50.00", "10.00", "60.00"), ("1", "1", "3")]),
)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.lists(ROW, max_size=3), rows=st.lists(ROW, max_size=12))
def test_preview_counts_are_the_import_counts(db, before, rows):
    def lines(generated):
        return csv_bytes(
            *(f"{code},SR,{ref},{day},GBP,{','.join(money)}" for code, ref, day, money in generated)
        )

    with transaction.atomic():
        served_posting("LOOP-1", "9001", "50.00")
        served_posting("LOOP-2", "9001", "60.00")
        served_posting("LOOP-3", "9002", "50.00")
        served_posting("LOOP-4", "9002", "50.00")  # two fits: by hand
        import_credit_notes(io.BytesIO(lines(before)), file_name="before.csv")
        shown = preview_bytes(lines(rows))
        applied = apply_preview(shown.import_id).as_dict()
        assert (shown.rows, shown.new, shown.unchanged, shown.refused) == (
            applied["rows"],
            applied["new"],
            applied["unchanged"],
            applied["refused"],
        )
        by_method = shown.would_match_by_ref + shown.would_match_by_order + shown.matched_by_hand
        assert by_method == applied["matched"]
        assert shown.would_stay_unmatched == applied["unmatched"]
        assert [r.as_dict() for r in shown.refusals] == applied["refused_rows"]
        assert sum(Decimal(n["gross"]) for n in shown.sample) == sum(
            note.gross for note in CreditNote.objects.filter(source_id=shown.import_id)
        )
        transaction.set_rollback(True)
