"""Khaos exports from Windows: UTF-8 (with or without a byte order mark) or Windows-1252,
CRLF or LF, decided over every byte of the kept file. Real bytes throughout."""

import hashlib
import io

import pytest

from reconciliation.choices import ImportStatus
from reconciliation.importers import FileRefused, import_credit_notes, preview
from reconciliation.models import CreditNote, CreditNoteImport

pytestmark = pytest.mark.django_db

HEADER = b"Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"
# "£" is 0xA3 and "é" 0xE9 in Windows-1252; in UTF-8 they are two bytes each.
WINDOWS_ROW = b"CN1,SR\xa31,CAF\xc9-\xe9t\xe9,01/03/2025,GBP,10.00,2.00,12.00\r\n"


def import_bytes(data: bytes, name="export.csv"):
    return import_credit_notes(io.BytesIO(data), file_name=name)


def ascii_rows(count: int, start: int = 100) -> bytes:
    return b"".join(
        b"CN%d,SR%d,REF-%d,01/03/2025,GBP,100.00,20.00,120.00\r\n" % (i, i, i)
        for i in range(start, start + count)
    )


def test_a_windows_1252_file_is_read_as_windows_1252_and_says_so():
    data = HEADER + WINDOWS_ROW
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test's bytes really are not UTF-8
    result = import_bytes(data)
    record = result.record
    assert (record.new, record.refused, record.encoding) == (1, 0, "cp1252")
    note = CreditNote.objects.get(code="CN1")
    assert (note.return_code, note.associated_ref) == ("SR£1", "CAFÉ-été")
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.file.read() == data  # kept as uploaded, not re-encoded


def test_utf8_with_and_without_a_byte_order_mark():
    row = "CN1,SR£1,CAFÉ-été,01/03/2025,GBP,10.00,2.00,12.00\r\n".encode()
    with_bom = import_bytes(b"\xef\xbb\xbf" + HEADER + row).record
    assert (with_bom.encoding, with_bom.new, with_bom.refused) == ("utf-8-sig", 1, 0)
    assert CreditNote.objects.get(code="CN1").associated_ref == "CAFÉ-été"
    without = import_bytes(HEADER + row).record
    assert (without.encoding, without.unchanged, without.refused) == ("utf-8", 1, 0)


def test_a_windows_byte_after_a_long_ascii_start_is_found_before_a_row_is_read():
    ascii_part = ascii_rows(30_000)  # about 1.6 MB of ASCII first
    assert len(ascii_part) > 1_500_000
    data = HEADER + ascii_part + WINDOWS_ROW + ascii_rows(3, start=90_000)
    shown = preview(io.BytesIO(data), file_name="late.csv")
    assert shown.encoding == "cp1252" and shown.new == 30_004 and shown.refused == 0
    assert not CreditNote.objects.exists()
    applied = import_bytes(data).record
    assert applied.encoding == "cp1252" and applied.new == 30_004
    assert CreditNote.objects.get(code="CN1").associated_ref == "CAFÉ-été"


def test_a_utf8_character_split_across_the_copy_s_reads_is_still_utf8():
    # The kept file is copied 64 KiB at a time: put "é" across that boundary.
    filler = b"CN9,SR9,REF-9,01/03/2025,GBP,1.00,0.00,1.00\r\n"
    data = HEADER + filler * ((2**16 - len(HEADER)) // len(filler))
    pad = 2**16 - 1 - len(data) - len(b"CN1,SR1,")
    data += b"CN1,SR1," + b"x" * pad + "é,01/03/2025,GBP,1.00,0.00,1.00\r\n".encode()
    assert data[2**16 - 1 : 2**16 + 1] == "é".encode()
    shown = preview(io.BytesIO(data), file_name="split.csv")
    assert shown.encoding == "utf-8"


@pytest.mark.parametrize("bad_byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_a_file_neither_utf8_nor_windows_1252_is_refused_whole_and_kept(bad_byte):
    data = HEADER + ascii_rows(5) + b"CN1,SR1,R%c,01/03/2025,GBP,1.00,0.00,1.00\r\n" % bad_byte
    with pytest.raises(FileRefused, match="neither UTF-8 nor Windows-1252") as refused:
        import_bytes(data)
    assert f"byte 0x{bad_byte:02X} on line 7" in str(refused.value)
    assert not CreditNote.objects.exists()
    record = CreditNoteImport.objects.get(pk=refused.value.import_id)
    assert record.status == ImportStatus.REFUSED and record.file.read() == data
    assert record.sha256 == hashlib.sha256(data).hexdigest() and record.applied_at is None
    assert "neither UTF-8 nor Windows-1252" in record.refusals[0]["reason"]


def test_a_byte_order_mark_on_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(FileRefused, match="starts as UTF-8"):
        import_bytes(b"\xef\xbb\xbf" + HEADER + WINDOWS_ROW)
    with pytest.raises(FileRefused, match="UTF-16"):
        import_bytes(("\ufeff" + HEADER.decode()).encode("utf-16-le"))
    assert not CreditNote.objects.exists()


def test_crlf_and_lf_give_the_same_notes():
    crlf = HEADER + ascii_rows(3) + WINDOWS_ROW
    lf = crlf.replace(b"\r\n", b"\n")
    first = import_bytes(crlf).record
    second = import_bytes(lf).record
    assert (first.new, second.new, second.unchanged, second.refused) == (4, 0, 4, 0)
    assert second.encoding == "cp1252" and first.sha256 != second.sha256
