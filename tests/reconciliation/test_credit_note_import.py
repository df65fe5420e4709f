"""The Khaos credit note export, imported through the command and the API, and matched."""

import hashlib
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from reconciliation.choices import ImportStatus
from reconciliation.importers import import_credit_notes
from reconciliation.models import CreditNote, CreditNoteImport, MatchMethod
from reconciliation.services import matching
from returns_hub.choices import ExceptionKind, MoneyState, PostingState
from returns_hub.models import ExceptionCase, Posting, TimelineEntry
from tests.conftest import sql_log
from tests.reconciliation.conftest import EXPECTED, EXPORT, served_posting

pytestmark = pytest.mark.django_db


HEADER = "Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"


def run(path, *args) -> str:
    out = io.StringIO()
    call_command("import_credit_notes", str(path), *args, stdout=out)
    return out.getvalue()


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\r\n" for row in rows)).encode()


def import_bytes(data: bytes, name="export.csv", **kwargs):
    return import_credit_notes(io.BytesIO(data), file_name=name, **kwargs).as_dict()


def assert_fixture_outcome(hub_postings):
    """Eight matched by AssociatedRef and confirmed, the hand-raised one unmatched."""
    notes = {note.code: note for note in CreditNote.objects.select_related("posting")}
    assert len(notes) == 9
    matched = {n.posting.associated_ref: n for n in notes.values() if n.posting_id}
    assert set(matched) == set(EXPECTED)
    assert {n.match_method for n in matched.values()} == {MatchMethod.ASSOCIATED_REF}
    assert all(n.matched_at and n.matched_by for n in matched.values())
    assert matched["RB-884512"].difference == Decimal("-5.00")
    assert matched["RB-884512"].expected_credit == Decimal("179.00")
    others = [n.difference for ref, n in matched.items() if ref != "RB-884512"]
    assert others == [Decimal("0.00")] * 7
    hand = notes["CN0010488"]
    assert hand.posting_id is None and hand.match_method == ""
    assert "by hand" in hand.unmatched_reason
    for ref, posting in hub_postings.items():
        posting.refresh_from_db()
        assert posting.state == PostingState.CONFIRMED, ref
        assert posting.confirmation_ref == matched[ref].code
        assert posting.return_ref.__class__.objects.get(pk=posting.return_ref_id).money_state == (
            MoneyState.CONFIRMED
        )
    open_cases = ExceptionCase.objects.filter(
        kind=ExceptionKind.POSTING_UNCONFIRMED, resolved_at__isnull=True
    )
    assert not open_cases.exists()


def test_the_fixture_export_through_the_command(hub_postings):
    out = run(EXPORT)
    assert "rows" in out and "  matched: 8\n" in out and "  new: 9\n" in out
    assert "  unmatched: 1\n" in out and "  refused: 0\n" in out and "  confirmed: 8\n" in out
    assert_fixture_outcome(hub_postings)
    assert TimelineEntry.objects.filter(kind="posting_confirmed").count() == 8


def test_re_importing_the_same_file_adds_nothing(hub_postings):
    run(EXPORT)
    before = list(CreditNote.objects.order_by("pk").values())
    entries = TimelineEntry.objects.count()
    out = run(EXPORT)
    assert "  new: 0\n" in out and "  unchanged: 9\n" in out and "  confirmed: 0\n" in out
    assert "  matched: 8\n" in out and "  unmatched: 1\n" in out
    assert list(CreditNote.objects.order_by("pk").values()) == before
    assert TimelineEntry.objects.count() == entries


def test_a_changed_amount_for_a_known_code_is_refused_not_overwritten(hub_postings):
    run(EXPORT)
    changed = EXPORT.read_bytes().replace(b"145.00,29.00,174.00", b"150.00,29.00,179.00")
    result = import_bytes(changed)
    assert (result["new"], result["unchanged"], result["refused"]) == (0, 8, 1)
    [refusal] = result["refused_rows"]
    assert refusal["row"] == 7 and refusal["code"] == "CN0010486"
    assert "gross 174.00 (this file: 179.00)" in refusal["reason"]
    assert CreditNote.objects.get(code="CN0010486").gross == Decimal("174.00")


def test_the_fixture_export_through_the_api(hub_postings, api_client_for):
    with EXPORT.open("rb") as upload:
        response = api_client_for("finance").post(
            "/api/v1/reconciliation/credit-notes/", {"file": upload}, format="multipart"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("rows", "matched", "new", "unmatched", "refused")} == {
        "rows": 9,
        "matched": 8,
        "new": 9,
        "unmatched": 1,
        "refused": 0,
    }
    assert body["refused_rows"] == []
    assert_fixture_outcome(hub_postings)
    note = CreditNote.objects.get(code="CN0010486")
    assert note.matched_by == "finance-user" and note.matched_by_user.username == "finance-user"
    assert CreditNoteImport.objects.get(pk=body["import_id"]).uploaded_by.username == (
        "finance-user"
    )


def test_the_api_refuses_a_file_that_is_not_the_export(api_client_for):
    upload = io.BytesIO(b"Order,Amount\r\n1,2\r\n")
    upload.name = "orders.csv"
    response = api_client_for("finance").post(
        "/api/v1/reconciliation/credit-notes/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert "missing Credit Note Code" in str(body["file"])
    assert not CreditNote.objects.exists()
    refused = CreditNoteImport.objects.get(pk=int(body["import_id"][0]))  # kept, saying why
    assert refused.status == ImportStatus.REFUSED and refused.applied_at is None
    assert "missing Credit Note Code" in refused.refusals[0]["reason"]
    assert refused.file.read() == b"Order,Amount\r\n1,2\r\n"


def xlsx_of_the_export(numbers_as_numbers=True) -> bytes:
    """The fixture export as Excel saves it: real dates and numbers in the cells."""
    book = Workbook()
    sheet = book.active
    lines = EXPORT.read_text().splitlines()
    sheet.append(lines[0].split(","))
    for line in lines[1:]:
        code, ret, ref, day, currency, *money = line.split(",")
        d, m, y = (int(part) for part in day.split("/"))
        amounts = [float(x) for x in money] if numbers_as_numbers else money
        sheet.append([code, ret, ref or None, datetime(y, m, d), currency, *amounts])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_xlsx_export_gives_the_same_result(hub_postings, tmp_path):
    path = tmp_path / "credit_notes.xlsx"
    path.write_bytes(xlsx_of_the_export())
    out = run(path)
    assert "(xlsx," in out and "  matched: 8\n" in out and "  unmatched: 1\n" in out
    assert_fixture_outcome(hub_postings)
    assert CreditNote.objects.get(code="CN0010481").issued_on == date(2025, 3, 5)
    assert CreditNote.objects.get(code="CN0010482").gross == Decimal("59.98")
    # The same notes as the CSV: importing the CSV now changes nothing.
    assert "  unchanged: 9\n" in run(EXPORT)


def test_an_xlsx_amount_that_is_not_whole_pence_is_refused(tmp_path):
    book = Workbook()
    book.active.append(HEADER.strip().split(","))
    book.active.append(["CN1", "SR1", "", datetime(2025, 3, 1), "GBP", 12.345, 0, 12.345])
    book.active.append(["CN2", "SR2", "", datetime(2025, 3, 1), "GBP", 10, 2.5, 12.5])
    path = tmp_path / "notes.xlsx"
    book.save(path)
    result = import_credit_notes(path.open("rb"), file_name=str(path)).as_dict()
    assert result["new"] == 1 and result["refused"] == 1
    assert "more than two decimal places" in result["refused_rows"][0]["reason"]
    assert CreditNote.objects.get(code="CN2").gross == Decimal("12.50")


def test_bad_rows_are_refused_with_their_row_numbers_and_the_good_ones_imported():
    result = import_bytes(
        csv_bytes(
            "CN1,SR1,,01/03/2025,GBP,10.00,2.00,12.00",
            "CN2,SR2,,31/02/2025,GBP,10.00,2.00,12.00",
            "CN3,SR3,,01/03/2025,GBP,1e3,0,1e3",
            ",SR4,,01/03/2025,GBP,10.00,2.00,12.00",
            "",
            "CN5,SR5,,01/03/2025,GBP,10.00,2.00,12.50",
            "CN1,SR1,,01/03/2025,GBP,10.00,2.00,12.00",
            "CN6,SR6,,2025-03-01,gbp,10.001,2,12",
        )
    )
    reasons = {r["row"]: r["reason"] for r in result["refused_rows"]}
    assert set(reasons) == {3, 4, 5, 7, 8, 9}
    assert "Date '31/02/2025' is not a date" in reasons[3]
    assert "Net '1e3' is not an amount" in reasons[4] and "Gross '1e3'" in reasons[4]
    assert "Credit Note Code is empty" in reasons[5]
    assert "Net 10.00 + Tax 2.00 is not Gross 12.50" in reasons[7]
    assert "already on row 2" in reasons[8]
    assert "Date '2025-03-01'" in reasons[9] and "Net '10.001'" in reasons[9]
    assert (result["rows"], result["new"], result["refused"]) == (7, 1, 6)
    assert list(CreditNote.objects.values_list("code", flat=True)) == ["CN1"]


def test_a_file_that_cannot_be_read_imports_nothing(tmp_path):
    path = tmp_path / "notes.csv"
    # 0x81 is a character in neither UTF-8 (alone) nor Windows-1252.
    path.write_bytes(csv_bytes("CN1,SR1,,01/03/2025,GBP,10.00,2.00,12.00") + b"CN2,\x81\r\n")
    with pytest.raises(CommandError, match="neither UTF-8 nor Windows-1252"):
        run(path)
    assert not CreditNote.objects.exists()
    assert CreditNoteImport.objects.get().status == ImportStatus.REFUSED


def test_the_direct_import_keeps_the_file_its_hash_and_encoding(hub_postings):
    out = run(EXPORT)
    record = CreditNoteImport.objects.get()
    assert f"(csv, utf-8, import {record.pk})" in out
    data = EXPORT.read_bytes()
    assert record.status == ImportStatus.APPLIED and record.applied_at is not None
    assert record.sha256 == hashlib.sha256(data).hexdigest() and record.encoding == "utf-8"
    assert record.file.name.startswith("credit-notes/") and record.file.read() == data


def test_a_blank_or_unknown_ref_falls_back_to_source_order_and_amount(db):
    target = served_posting("LOOP-7001", "2001", "50.00")
    other = served_posting("LOOP-7002", "2001", "80.00")  # the same order, another credit
    result = import_bytes(
        csv_bytes(
            "CN1,SR1,#2001,01/03/2025,GBP,41.67,8.33,50.00",  # staff typed the order number
            "CN2,SR2,2001,01/03/2025,GBP,50.00,10.00,60.00",  # the order, no credit fits
            "CN3,SR3,WEB-NOPE,01/03/2025,GBP,50.00,10.00,60.00",  # names nothing
        )
    )
    assert (result["matched"], result["unmatched"], result["confirmed"]) == (1, 2, 1)
    note = CreditNote.objects.get(code="CN1")
    assert (note.posting_id, note.match_method) == (target.pk, MatchMethod.ORDER_AND_AMOUNT)
    assert note.difference == Decimal("0.00") and note.matched_by == matching.TASK_NAME
    assert "No open return posting of source order 2001" in (
        CreditNote.objects.get(code="CN2").unmatched_reason
    )
    assert "No return posting has" in CreditNote.objects.get(code="CN3").unmatched_reason
    other.refresh_from_db()
    assert other.state == PostingState.DOWNLOADED


def test_a_posting_khaos_never_had_is_not_matched(db):
    served_posting("LOOP-7101", "2101", "50.00", state=PostingState.HELD)
    result = import_bytes(csv_bytes("CN1,SR1,LOOP-7101,01/03/2025,GBP,41.67,8.33,50.00"))
    assert result["unmatched"] == 1
    assert "is held" in CreditNote.objects.get(code="CN1").unmatched_reason
    assert Posting.objects.get(associated_ref="LOOP-7101").state == PostingState.HELD


def test_a_note_imported_before_its_posting_was_served_matches_on_re_import(db):
    data = csv_bytes("CN1,SR1,LOOP-7201,01/03/2025,GBP,41.67,8.33,50.00")
    assert import_bytes(data)["unmatched"] == 1
    posting = served_posting("LOOP-7201", "2201", "50.00")
    again = import_bytes(data)
    assert (again["new"], again["matched"], again["confirmed"]) == (0, 1, 1)
    posting.refresh_from_db()
    assert posting.state == PostingState.CONFIRMED and posting.confirmation_ref == "CN1"


def test_a_second_note_for_a_matched_posting_stays_unmatched(db):
    served_posting("LOOP-7301", "2301", "50.00")
    import_bytes(
        csv_bytes(
            "CN1,SR1,LOOP-7301,01/03/2025,GBP,41.67,8.33,50.00",
            "CN2,SR2,LOOP-7301,02/03/2025,GBP,41.67,8.33,50.00",
        )
    )
    assert "already matched to credit note CN1" in (
        CreditNote.objects.get(code="CN2").unmatched_reason
    )


def test_an_unmatched_note_can_be_matched_by_hand(db, role_users):
    posting = served_posting("LOOP-7401", "2401", "50.00")
    import_bytes(csv_bytes("CN1,SR1,,01/03/2025,GBP,40.00,8.00,48.00"))
    note = CreditNote.objects.get(code="CN1")
    assert matching.match_by_hand(note, posting, role_users["finance"]) is True
    note.refresh_from_db()
    posting.refresh_from_db()
    assert (note.match_method, note.matched_by, note.difference) == (
        MatchMethod.MANUAL,
        "finance-user",
        Decimal("-2.00"),
    )
    assert posting.state == PostingState.CONFIRMED
    with pytest.raises(matching.MatchRefused):
        matching.match_by_hand(note, posting, role_users["finance"])


def test_the_import_makes_a_bounded_number_of_queries_whatever_its_size(db):
    """Reading, checking and writing rows is by batch: 20 rows or 900 take as many queries."""

    def rows(n, prefix):
        return csv_bytes(
            *(
                f"{prefix}{i},SR{i},REF-{prefix}{i},01/03/2025,GBP,10.00,2.00,12.00"
                for i in range(n)
            )
        )

    with sql_log() as small:
        import_bytes(rows(20, "A"))
    with sql_log() as large:
        result = import_bytes(rows(900, "B"))
    assert result["new"] == 900 and result["unmatched"] == 900
    assert len(large) == len(small) <= 15
