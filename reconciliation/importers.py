"""Import the Khaos credit note export (CSV or XLSX), streamed, in batches.

The file is read row by row (the ``csv`` module over a text stream; openpyxl in
read-only mode) and written BATCH rows at a time, so its size does not decide
the memory the import takes. Row numbers count the header as row 1, as a
spreadsheet shows them.

Every upload is kept first (``CreditNoteImport.file``, with its SHA-256 and the
encoding it was read with) and then read from the kept copy, twice at most:

- ``preview`` reads and checks the whole file exactly as the import would, and
  says which notes would match and how, writing nothing but the kept file and
  its ``previewed`` record;
- ``apply_preview`` applies a previewed file once (the record is claimed by a
  conditional update, so two clicks or two workers apply it once);
- ``import_credit_notes`` (the command and the API without a preview) keeps the
  file and applies it at once.

What a file comes to:

- a row that cannot be read (no code, a date that does not exist, an amount
  that is not money, net + tax not equal to gross, a code twice in the file)
  is **refused** with its row number and why; the file's good rows are
  imported, so refusing one typing error does not hold back a month's notes;
- a row identical to a credit note imported before is **unchanged**; one that
  differs from it is refused (the stored note is never overwritten);
- the whole file is **refused**, with nothing imported, when it cannot be read
  as the export at all (wrong format, a column missing, text neither UTF-8 nor
  Windows-1252); its record keeps the file and the reason;
- everything one import writes is in one transaction: nothing half-imported.

Khaos runs on Windows: a CSV is UTF-8 (with or without a byte order mark) or,
when its bytes are not UTF-8, Windows-1252 (``£`` is 0xA3). The encoding is
decided while the upload is copied to the kept file, over every byte, so a
Windows byte after a megabyte of ASCII is found before a row is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import PurePath

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from reconciliation.choices import ImportStatus
from reconciliation.models import CreditNote, CreditNoteImport, MatchMethod
from reconciliation.services import matching

BATCH = 1000
REFUSALS_KEPT = 1000  # listed in the import's record and answer; the count is always exact
CENT = Decimal("0.01")
MAX_WHOLE_DIGITS = 10  # the columns hold 12 digits, 2 of them after the point
FORMATS = ("csv", "xlsx")
LOCK_KEY = 0x4B43_4E49  # one import at a time: two uploads of one new note never race
SAMPLE = 20  # new notes shown with their prospective match in a preview
UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

COLUMNS = {
    "code": "Credit Note Code",
    "return_code": "Return Code",
    "associated_ref": "Associated Ref",
    "issued_on": "Date",
    "currency": "Currency",
    "net": "Net",
    "tax": "Tax",
    "gross": "Gross",
}
COMPARED = ("return_code", "associated_ref", "issued_on", "currency", "net", "tax", "gross")
MATCH_FIELDS = [
    "posting",
    "platform",
    "match_method",
    "matched_by",
    "matched_by_user",
    "matched_at",
    "expected_credit",
    "difference",
    "unmatched_reason",
    *matching.SPLIT_FIELDS,  # the difference's parts, set with the match
]
AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?")
CURRENCY = re.compile(r"[A-Z]{3}")


class FileRefused(Exception):
    """The file as a whole cannot be read as the credit note export: nothing is imported.

    ``import_id`` is the refused import's record (which keeps the file), when there is one.
    """

    def __init__(self, message: str, *, import_id: int | None = None):
        super().__init__(message)
        self.import_id = import_id


class ImportNotFound(Exception):
    """No import has that id."""


class RowRefused(Exception):
    pass


@dataclass(frozen=True)
class Refusal:
    row: int
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "code": self.code, "reason": self.reason}


@dataclass
class ImportResult:
    record: CreditNoteImport
    refusals: list[Refusal] = field(default_factory=list)
    # True when the import had been applied before this call, which wrote nothing.
    already_applied: bool = False

    def as_dict(self) -> dict:
        r = self.record
        return {
            "import_id": r.pk,
            "status": r.status,
            "already_applied": self.already_applied,
            "file_name": r.file_name,
            "format": r.file_format,
            "encoding": r.encoding,
            "sha256": r.sha256,
            "applied_at": r.applied_at.isoformat() if r.applied_at else None,
            "rows": r.rows,
            "matched": r.matched,
            "new": r.new,
            "unchanged": r.unchanged,
            "unmatched": r.unmatched,
            "refused": r.refused,
            "confirmed": r.confirmed,
            "refused_rows": [refusal.as_dict() for refusal in self.refusals],
        }


@dataclass
class ImportPreview:
    """What applying a kept file would do; nothing is written but the file and its record."""

    import_id: int
    file_name: str
    format: str
    encoding: str
    sha256: str
    rows: int = 0
    new: int = 0
    unchanged: int = 0
    would_match_by_ref: int = 0
    would_match_by_order: int = 0
    matched_by_hand: int = 0  # the file's notes a person already matched
    would_stay_unmatched: int = 0
    refused: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    sample: list[dict] = field(default_factory=list)  # the first SAMPLE new notes
    applied_before: int | None = None  # an applied import of the same bytes

    def as_dict(self) -> dict:
        return {
            "import_id": self.import_id,
            "status": ImportStatus.PREVIEWED.value,
            "file_name": self.file_name,
            "format": self.format,
            "encoding": self.encoding,
            "sha256": self.sha256,
            "rows": self.rows,
            "new": self.new,
            "unchanged": self.unchanged,
            "would_match_by_ref": self.would_match_by_ref,
            "would_match_by_order": self.would_match_by_order,
            "matched_by_hand": self.matched_by_hand,
            "would_stay_unmatched": self.would_stay_unmatched,
            "refused": self.refused,
            "refused_rows": [refusal.as_dict() for refusal in self.refusals],
            "sample": self.sample,
            "applied_before": self.applied_before,
        }


# --- reading ------------------------------------------------------------------------------


def _check_format(fmt: str | None) -> str | None:
    if fmt and fmt.lower() not in FORMATS:
        raise FileRefused(f"Unknown format {fmt!r}: use csv or xlsx.")
    return fmt.lower() if fmt else None


def detect_format(file_name: str, head: bytes, fmt: str | None = None) -> str:
    """The format asked for, else the name's extension, else the first bytes (an XLSX is a zip)."""
    if fmt := _check_format(fmt):
        return fmt
    suffix = PurePath(file_name or "").suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    return "xlsx" if head[:4] == b"PK\x03\x04" else "csv"


class _Inspector:
    """The upload read once on its way to the kept file: hashed, and tried as UTF-8 and as
    Windows-1252 with strict incremental decoders over every byte, so the encoding is known
    (or the file refused) before a row is read, without holding the file in memory."""

    CANDIDATES = ("utf-8", "cp1252")

    def __init__(self, stream):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.head = b""
        self.size = 0
        self.lines_before = 0  # newlines in the bytes already read
        self.decoders = {name: codecs.getincrementaldecoder(name)() for name in self.CANDIDATES}
        self.failures: dict[str, str] = {}  # encoding → where it failed
        self.finished = False

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if len(self.head) < 4:
            self.head += data[: 4 - len(self.head)]
        self.finished = not data
        self._feed(data, final=self.finished)
        self.sha256.update(data)
        self.size += len(data)
        self.lines_before += data.count(b"\n")
        return data

    def finish(self) -> None:
        """The decoders' last check (a character cut off by the end of the file), when the
        storage stopped reading before the end said so."""
        if not self.finished:
            self.finished = True
            self._feed(b"", final=True)

    def _feed(self, data: bytes, *, final: bool) -> None:
        for name, decoder in self.decoders.items():
            if name in self.failures:
                continue
            pending = len(decoder.getstate()[0])  # bytes of a character split across reads
            try:
                decoder.decode(data, final=final)
            except UnicodeDecodeError as error:
                at = max(error.start - pending, 0)
                line = self.lines_before + data[:at].count(b"\n") + 1
                if byte := data[at : at + 1]:
                    self.failures[name] = f"byte 0x{byte.hex().upper()} on line {line}"
                else:
                    self.failures[name] = (
                        f"a character cut off by the end of the file (line {line})"
                    )

    def encoding(self) -> str:
        """The encoding the CSV is read with; FileRefused when it is neither."""
        if self.head[:2] in UTF16_BOMS:
            raise FileRefused(
                "The file is UTF-16 text (Unicode text): export the CSV as UTF-8 or as "
                "Windows (ANSI) CSV."
            )
        if "utf-8" not in self.failures:
            return "utf-8-sig" if self.head.startswith(UTF8_BOM) else "utf-8"
        if self.head.startswith(UTF8_BOM):
            raise FileRefused(
                f"The file starts as UTF-8 (a byte order mark) but is not UTF-8: "
                f"{self.failures['utf-8']}. Export the CSV again as UTF-8."
            )
        if "cp1252" not in self.failures:
            return "cp1252"
        raise FileRefused(
            f"The file is neither UTF-8 nor Windows-1252 text: {self.failures['cp1252']} is "
            f"not a character in either (first non-UTF-8 byte: {self.failures['utf-8']}). "
            "Export the CSV again as UTF-8."
        )


def _csv_rows(stream, encoding: str = "utf-8-sig") -> Iterator[list]:
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError as error:  # the kept file's encoding was checked: not expected
        raise FileRefused(f"The file is not {encoding} text: {error.reason}.") from error
    except csv.Error as error:
        raise FileRefused(f"The CSV cannot be read: {error}.") from error
    finally:
        if not stream.closed:
            text.detach()  # the caller closes its own stream


def _xlsx_rows(stream) -> Iterator[tuple]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise FileRefused(f"The file is not an XLSX workbook ({type(error).__name__}).") from error
    try:
        yield from workbook.active.iter_rows(values_only=True)
    finally:
        workbook.close()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def records(rows: Iterable) -> Iterator[tuple[int, dict]]:
    """(row number, {column key: raw cell}) for each data row; blank rows are skipped."""
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise FileRefused("The file is empty.")
    names = [" ".join(str(cell or "").split()).lower() for cell in header]
    where = {}
    for key, title in COLUMNS.items():
        if title.lower() in names:
            where[key] = names.index(title.lower())
    missing = [title for key, title in COLUMNS.items() if key not in where]
    if missing:
        raise FileRefused(
            f"Row 1 is not the credit note export's header: missing {', '.join(missing)}."
        )
    for number, row in enumerate(rows, start=2):
        if all(_blank(cell) for cell in row):
            continue
        yield number, {key: row[i] if i < len(row) else None for key, i in where.items()}


# --- one row ------------------------------------------------------------------------------


def _text(value, title: str, limit: int, *, required: bool = False) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code a spreadsheet took for a number
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RowRefused(f"{title} is empty")
    if len(text) > limit:
        raise RowRefused(f"{title} is longer than {limit} characters")
    return text


def _date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        raise RowRefused("Date is empty")
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise RowRefused(f"Date {text!r} is not a date (dd/mm/yyyy)") from None


def _amount(value, title: str) -> Decimal:
    """Money from a cell, exactly: a number with at most two decimal places, or refused."""
    if isinstance(value, bool):
        raise RowRefused(f"{title} is not an amount")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RowRefused(f"{title} is not an amount")
        value = Decimal(repr(value))  # the shortest decimal that reads back as this float
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        amount = value
        shown = format(value, "f")
    else:
        shown = "" if value is None else str(value).strip()
        if not shown:
            raise RowRefused(f"{title} is empty")
        if not AMOUNT.fullmatch(shown):
            raise RowRefused(
                f"{title} {shown[:40]!r} is not an amount (digits, at most two decimal places)"
            )
        try:
            amount = Decimal(shown.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
            raise RowRefused(f"{title} {shown[:40]!r} is not an amount") from None
    if not amount.is_finite():
        raise RowRefused(f"{title} is not an amount")
    if amount and amount.adjusted() >= MAX_WHOLE_DIGITS:
        raise RowRefused(f"{title} {shown[:40]} is too large")
    exact = amount.quantize(CENT)  # only where nothing is lost: never rounded
    if exact != amount:
        raise RowRefused(f"{title} {shown[:40]} has more than two decimal places")
    return exact


def parse(raw: dict) -> CreditNote:
    """A CreditNote (unsaved) from one row's cells; RowRefused says every problem found."""
    problems = []

    def read(reader, *args, **kwargs):
        try:
            return reader(*args, **kwargs)
        except RowRefused as error:
            problems.append(str(error))
            return None

    code = read(_text, raw["code"], "Credit Note Code", 30, required=True)
    note = CreditNote(
        code=code or "",
        return_code=read(_text, raw["return_code"], "Return Code", 30) or "",
        associated_ref=read(_text, raw["associated_ref"], "Associated Ref", 50) or "",
        issued_on=read(_date, raw["issued_on"]),
        currency=(read(_text, raw["currency"], "Currency", 10, required=True) or "").upper(),
        net=read(_amount, raw["net"], "Net"),
        tax=read(_amount, raw["tax"], "Tax"),
        gross=read(_amount, raw["gross"], "Gross"),
    )
    if note.currency and not CURRENCY.fullmatch(note.currency):
        problems.append(f"Currency {note.currency!r} is not a three-letter code")
    if None not in (note.net, note.tax, note.gross) and note.net + note.tax != note.gross:
        problems.append(f"Net {note.net} + Tax {note.tax} is not Gross {note.gross}")
    if problems:
        raise RowRefused("; ".join(problems))
    return note


def _changes(old: CreditNote, new: CreditNote) -> str:
    return ", ".join(
        f"{name} {getattr(old, name)} (this file: {getattr(new, name)})"
        for name in COMPARED
        if getattr(old, name) != getattr(new, name)
    )


# --- the import ---------------------------------------------------------------------------

Progress = Callable[[int], None]  # told the rows read so far, after each batch


@dataclass
class _Tally:
    record: CreditNoteImport
    matcher: matching.Matcher
    write: bool  # False: a preview, which writes no note
    refusals: list[Refusal] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)  # code → its row in this file
    to_confirm: dict[int, str] = field(default_factory=dict)  # posting id → note code
    # A preview writes nothing, so the matching cannot see the postings its earlier
    # batches claimed: they are kept here (posting id → note code).
    claimed_here: dict[int, str] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)  # match method → notes
    sample: list[dict] = field(default_factory=list)

    def refuse(self, row: int, code: str, reason: str) -> None:
        self.record.refused += 1
        if len(self.refusals) < REFUSALS_KEPT:
            self.refusals.append(Refusal(row, code, reason))


def _import_batch(batch: list[tuple[int, dict]], tally: _Tally) -> None:
    record = tally.record
    parsed = []
    for row, raw in batch:
        record.rows += 1
        try:
            note = parse(raw)
        except RowRefused as error:
            tally.refuse(row, _text_or_blank(raw.get("code")), str(error))
            continue
        if note.code in tally.codes:
            tally.refuse(row, note.code, f"{note.code} is already on row {tally.codes[note.code]}")
            continue
        tally.codes[note.code] = row
        parsed.append((row, note))
    known = CreditNote.objects.in_bulk([note.code for _, note in parsed], field_name="code")
    new, known_here = [], []
    for row, note in parsed:
        old = known.get(note.code)
        if old is None:
            note.source = record if tally.write else None
            new.append((row, note))
        elif changes := _changes(old, note):
            tally.refuse(
                row, note.code, f"{note.code} was imported before with {changes}: not overwritten"
            )
        else:
            known_here.append(old)
    new_notes = [note for _, note in new]
    retry = [note for note in known_here if note.posting_id is None]
    matching.match(new_notes + retry, tally.matcher, claimed_before=tally.claimed_here)
    if tally.write:
        CreditNote.objects.bulk_create(new_notes, batch_size=BATCH)
        if retry:
            CreditNote.objects.bulk_update(retry, MATCH_FIELDS, batch_size=BATCH)
    else:
        for note in new_notes + retry:
            if note.posting_id is not None:
                tally.claimed_here[note.posting_id] = note.code
        _keep_sample(new, tally)
    record.new += len(new_notes)
    record.unchanged += len(known_here)
    for note in (*new_notes, *known_here):
        if note.posting_id is None:
            record.unmatched += 1
        else:
            record.matched += 1
            tally.to_confirm[note.posting_id] = note.code
            tally.by_method[note.match_method] = tally.by_method.get(note.match_method, 0) + 1


def _keep_sample(new: list[tuple[int, CreditNote]], tally: _Tally) -> None:
    for row, note in new[: max(SAMPLE - len(tally.sample), 0)]:
        tally.sample.append(
            {
                "row": row,
                "code": note.code,
                "return_code": note.return_code,
                "associated_ref": note.associated_ref,
                "issued_on": note.issued_on.isoformat(),
                "currency": note.currency,
                "net": str(note.net),
                "tax": str(note.tax),
                "gross": str(note.gross),
                "match_method": note.match_method,
                "posting": note.posting.associated_ref if note.posting_id else None,
                "expected_credit": _money(note.expected_credit),
                "difference": _money(note.difference),
                "unmatched_reason": note.unmatched_reason,
            }
        )


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _text_or_blank(value) -> str:
    return "" if value is None else str(value).strip()[:30]


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(items, size)):
        yield batch


def _stored_refusals(record: CreditNoteImport) -> list[Refusal]:
    return [Refusal(**refusal) for refusal in record.refusals]


def _file_refusal(record: CreditNoteImport) -> str:
    return "; ".join(refusal["reason"] for refusal in record.refusals) or "refused"


# --- keeping the upload ---------------------------------------------------------------------


def _keep(stream, *, file_name: str, fmt: str | None, user) -> CreditNoteImport:
    """The upload copied to the kept file and recorded as ``previewed``, hashed, its encoding
    decided on the way. A CSV neither UTF-8 nor Windows-1252 is kept and refused."""
    fmt = _check_format(fmt)
    name = PurePath(file_name or "upload").name[:255] or "upload"
    inspector = _Inspector(stream)
    record = CreditNoteImport(file_name=name, uploaded_by=user, status=ImportStatus.PREVIEWED)
    stored_name = PurePath(name).stem[:60] + (PurePath(name).suffix[:8] or ".csv")
    record.file.save(stored_name, File(inspector, name=stored_name), save=False)
    inspector.finish()
    record.sha256 = inspector.sha256.hexdigest()
    record.file_format = detect_format(name, inspector.head, fmt)
    refusal = None
    if record.file_format == "csv":
        try:
            record.encoding = inspector.encoding()
        except FileRefused as error:
            refusal = str(error)
    if refusal:
        record.status = ImportStatus.REFUSED
        record.refusals = [{"row": None, "code": "", "reason": refusal}]
    record.save()
    if refusal:
        raise FileRefused(refusal, import_id=record.pk)
    return record


def _read_kept(record: CreditNoteImport, tally: _Tally, progress: Progress | None) -> None:
    """Every row of the kept file through ``_import_batch``."""
    try:
        kept = record.file.storage.open(record.file.name, "rb")
    except OSError as error:
        raise FileRefused(f"The kept file {record.file.name} cannot be read: {error}.") from error
    with kept:
        stream = getattr(kept, "file", kept)  # the storage's own file object, for io's wrappers
        if record.file_format == "xlsx":
            rows = _xlsx_rows(stream)
        else:
            rows = _csv_rows(stream, record.encoding or "utf-8-sig")
        try:
            for batch in _batches(records(rows), BATCH):
                _import_batch(batch, tally)
                if progress is not None:
                    progress(tally.record.rows)
        finally:
            rows.close()  # before the stream closes under it


def _reset_counts(record: CreditNoteImport) -> None:
    for name in ("rows", "new", "unchanged", "matched", "unmatched", "refused", "confirmed"):
        setattr(record, name, 0)
    record.refusals = []


def _refuse(import_id: int, reason: str) -> None:
    """A file refused as a whole, on its own (the import's transaction rolled back)."""
    CreditNoteImport.objects.filter(pk=import_id).exclude(status=ImportStatus.APPLIED).update(
        status=ImportStatus.REFUSED, refusals=[{"row": None, "code": "", "reason": reason}]
    )


# --- preview, apply -----------------------------------------------------------------------


def preview(
    file, *, file_name: str, fmt: str | None = None, user=None, progress: Progress | None = None
) -> ImportPreview:
    """Keep the upload and say what applying it would do, writing no credit note.

    Raises FileRefused (with the kept, refused record's ``import_id``) when the file
    cannot be read as the export.
    """
    record = _keep(file, file_name=file_name, fmt=fmt, user=user)
    return _preview(record, user=user, progress=progress)


def preview_of(import_id: int, *, user=None) -> ImportPreview:
    """A previewed import's preview again, read from its kept file against today's notes."""
    record = _get(import_id)
    if record.status == ImportStatus.REFUSED:
        raise FileRefused(_file_refusal(record), import_id=record.pk)
    return _preview(record, user=user, progress=None)


def _preview(record: CreditNoteImport, *, user, progress: Progress | None) -> ImportPreview:
    matcher = matching.Matcher(user=user, now=timezone.now())
    tally = _Tally(record=record, matcher=matcher, write=False)
    _reset_counts(record)
    try:
        _read_kept(record, tally, progress)
    except FileRefused as error:
        _refuse(record.pk, str(error))
        raise FileRefused(str(error), import_id=record.pk) from error
    record.refusals = [refusal.as_dict() for refusal in tally.refusals]
    if record.status == ImportStatus.PREVIEWED:
        fields = ["rows", "new", "unchanged", "matched", "unmatched", "refused", "refusals"]
        CreditNoteImport.objects.filter(pk=record.pk, status=ImportStatus.PREVIEWED).update(
            **{name: getattr(record, name) for name in fields}
        )
    applied_before = (
        CreditNoteImport.objects.filter(sha256=record.sha256, status=ImportStatus.APPLIED)
        .exclude(pk=record.pk)
        .values_list("pk", flat=True)
        .first()
    )
    return ImportPreview(
        import_id=record.pk,
        file_name=record.file_name,
        format=record.file_format,
        encoding=record.encoding,
        sha256=record.sha256,
        rows=record.rows,
        new=record.new,
        unchanged=record.unchanged,
        would_match_by_ref=tally.by_method.get(MatchMethod.ASSOCIATED_REF, 0),
        would_match_by_order=tally.by_method.get(MatchMethod.ORDER_AND_AMOUNT, 0),
        matched_by_hand=tally.by_method.get(MatchMethod.MANUAL, 0),
        would_stay_unmatched=record.unmatched,
        refused=record.refused,
        refusals=tally.refusals,
        sample=tally.sample,
        applied_before=applied_before,
    )


def _get(import_id) -> CreditNoteImport:
    try:
        return CreditNoteImport.objects.get(pk=import_id)
    except (CreditNoteImport.DoesNotExist, ValueError, TypeError):
        raise ImportNotFound(f"No credit note import {import_id}.") from None


def apply_preview(import_id: int, *, user=None, progress: Progress | None = None) -> ImportResult:
    """Apply a previewed import's kept file, once.

    The record is claimed (previewed → applied) by a conditional update under the
    import lock, so a second call, at once or later, writes nothing and returns the
    stored result (``already_applied``). Raises FileRefused for a file refused as a
    whole (then or now: the record says why), ImportNotFound for no such import.
    """
    matcher = matching.Matcher(user=user, now=timezone.now())
    claimed = False
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            claimed = bool(
                CreditNoteImport.objects.filter(pk=import_id, status=ImportStatus.PREVIEWED).update(
                    status=ImportStatus.APPLIED, applied_at=matcher.now
                )
            )
            record = _get(import_id)
            if not claimed:
                if record.status == ImportStatus.REFUSED:
                    raise FileRefused(_file_refusal(record), import_id=record.pk)
                return ImportResult(
                    record=record, refusals=_stored_refusals(record), already_applied=True
                )
            _reset_counts(record)
            tally = _Tally(record=record, matcher=matcher, write=True)
            _read_kept(record, tally, progress)
            record.confirmed = matching.confirm(tally.to_confirm, matcher)
            record.refusals = [refusal.as_dict() for refusal in tally.refusals]
            record.save()
    except FileRefused as error:
        if claimed:  # the claim rolled back with the rest: the record says why, on its own
            _refuse(import_id, str(error))
        raise FileRefused(str(error), import_id=import_id) from error
    return ImportResult(record=record, refusals=tally.refusals)


def import_credit_notes(
    stream,
    *,
    file_name: str,
    fmt: str | None = None,
    user=None,
    progress: Progress | None = None,
) -> ImportResult:
    """Keep one export from a binary stream and apply it at once; returns an ImportResult.

    Raises FileRefused (and imports nothing; the refused record keeps the file) when the
    file cannot be read as the export.
    """
    record = _keep(stream, file_name=file_name, fmt=fmt, user=user)
    return apply_preview(record.pk, user=user, progress=progress)
