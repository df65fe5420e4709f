"""Import the Khaos credit note export (CSV or XLSX), streamed, in batches.

The file is read row by row (the ``csv`` module over a text stream; openpyxl in
read-only mode) and written BATCH rows at a time, so its size does not decide
the memory the import takes. Row numbers count the header as row 1, as a
spreadsheet shows them.

What a file comes to:

- a row that cannot be read (no code, a date that does not exist, an amount
  that is not money, net + tax not equal to gross, a code twice in the file)
  is **refused** with its row number and why; the file's good rows are
  imported, so refusing one typing error does not hold back a month's notes;
- a row identical to a credit note imported before is **unchanged**; one that
  differs from it is refused (the stored note is never overwritten);
- the whole file is refused, with nothing imported, when it cannot be read as
  the export at all (wrong format, not UTF-8, a column missing);
- everything one import writes is in one transaction: nothing half-imported.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import PurePath

from django.db import connection, transaction
from django.utils import timezone

from reconciliation.models import CreditNote, CreditNoteImport
from reconciliation.services import matching

BATCH = 1000
REFUSALS_KEPT = 1000  # listed in the import's record and answer; the count is always exact
CENT = Decimal("0.01")
MAX_WHOLE_DIGITS = 10  # the columns hold 12 digits, 2 of them after the point
FORMATS = ("csv", "xlsx")
LOCK_KEY = 0x4B43_4E49  # one import at a time: two uploads of one new note never race

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
    "match_method",
    "matched_by",
    "matched_by_user",
    "matched_at",
    "expected_credit",
    "difference",
    "unmatched_reason",
]
AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?")
CURRENCY = re.compile(r"[A-Z]{3}")


class FileRefused(Exception):
    """The file as a whole cannot be read as the credit note export: nothing is imported."""


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

    def as_dict(self) -> dict:
        r = self.record
        return {
            "import_id": r.pk,
            "file_name": r.file_name,
            "format": r.file_format,
            "rows": r.rows,
            "matched": r.matched,
            "new": r.new,
            "unchanged": r.unchanged,
            "unmatched": r.unmatched,
            "refused": r.refused,
            "confirmed": r.confirmed,
            "refused_rows": [refusal.as_dict() for refusal in self.refusals],
        }


# --- reading ------------------------------------------------------------------------------


def detect_format(file_name: str, stream, fmt: str | None = None) -> str:
    """The format asked for, else the name's extension, else the first bytes (an XLSX is a zip)."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise FileRefused(f"Unknown format {fmt!r}: use csv or xlsx.")
        return fmt
    suffix = PurePath(file_name or "").suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    head = stream.read(4)
    stream.seek(0)
    return "xlsx" if head == b"PK\x03\x04" else "csv"


def _csv_rows(stream) -> Iterator[list]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError as error:
        raise FileRefused("The file is not UTF-8 text: export the CSV as UTF-8.") from error
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


@dataclass
class _Tally:
    record: CreditNoteImport
    matcher: matching.Matcher
    refusals: list[Refusal] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)  # code → its row in this file
    to_confirm: dict[int, str] = field(default_factory=dict)  # posting id → note code

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
            note.source = record
            new.append(note)
        elif changes := _changes(old, note):
            tally.refuse(
                row, note.code, f"{note.code} was imported before with {changes}: not overwritten"
            )
        else:
            known_here.append(old)
    retry = [note for note in known_here if note.posting_id is None]
    matching.match(new + retry, tally.matcher)
    CreditNote.objects.bulk_create(new, batch_size=BATCH)
    if retry:
        CreditNote.objects.bulk_update(retry, MATCH_FIELDS, batch_size=BATCH)
    record.new += len(new)
    record.unchanged += len(known_here)
    for note in (*new, *known_here):
        if note.posting_id is None:
            record.unmatched += 1
        else:
            record.matched += 1
            tally.to_confirm[note.posting_id] = note.code


def _text_or_blank(value) -> str:
    return "" if value is None else str(value).strip()[:30]


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(items, size)):
        yield batch


def import_credit_notes(stream, *, file_name: str, fmt: str | None = None, user=None):
    """Import one export from a binary stream; returns an ImportResult.

    Raises FileRefused (and imports nothing) when the file cannot be read as the export.
    """
    fmt = detect_format(file_name, stream, fmt)
    rows = _xlsx_rows(stream) if fmt == "xlsx" else _csv_rows(stream)
    try:
        return _import(rows, fmt, file_name=file_name, user=user)
    finally:
        rows.close()  # before the caller closes the stream under it


def _import(rows: Iterator, fmt: str, *, file_name: str, user) -> ImportResult:
    matcher = matching.Matcher(user=user, now=timezone.now())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        record = CreditNoteImport.objects.create(
            file_name=PurePath(file_name or "upload").name[:255], file_format=fmt, uploaded_by=user
        )
        tally = _Tally(record=record, matcher=matcher)
        for batch in _batches(records(rows), BATCH):
            _import_batch(batch, tally)
        record.confirmed = matching.confirm(tally.to_confirm, matcher)
        record.refusals = [refusal.as_dict() for refusal in tally.refusals]
        record.save()
    return ImportResult(record=record, refusals=tally.refusals)
