"""The month-end pack: a period's reconciliation as one XLSX and one CSV per sheet.

Sheets, in order: **Summary** (per platform and currency, the figures and each cause's
open and accepted counts and amounts, exactly ``differences.totals``, which the period
API and the screen show; then a grand total per currency), **one sheet per difference
cause** (its open rows), **matched** (the credit notes dated in the period that are
matched to a posting: their gross is the summary's "confirmed") and **accepted** (the
differences finance accepted).

Everything is streamed: openpyxl's write-only workbook, the CSVs written row by row as
the sheets are, and the difference rows read in keyset pages, so memory stays that of
one page whatever the month holds. Money is written as Decimal (a number in the XLSX,
formatted ``#,##0.00``; ``1234.50`` in the CSV), never through a float.
"""

from __future__ import annotations

import csv
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from reconciliation.choices import PackStatus
from reconciliation.models import CreditNote, MonthEndPack
from reconciliation.services import differences
from reconciliation.services.differences import CAUSE_ORDER, FIGURES, DifferenceRow, Period

logger = logging.getLogger(__name__)

PAGE = 5_000  # difference rows read per query
TASK = "reconciliation.tasks.build_month_end_pack"
# A million-row month takes minutes, far over the cluster's default task timeout.
TASK_TIMEOUT = 3_600
# A builder beats at least this often while it works (with its progress); a running pack
# silent for LEASE lost its builder (a worker killed mid-task) and may be claimed again.
BEAT_EVERY = timedelta(seconds=30)
LEASE = timedelta(minutes=5)
# Excel's limit is 1,048,576 rows; a longer sheet goes on in "<name> 2" (its CSV does not).
SHEET_MAX_ROWS = 1_048_575
ZERO = Decimal("0.00")
PENNY = Decimal("0.01")
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
NO_PLATFORM = "(no platform)"
ALL_PLATFORMS = "All platforms"
# A CSV cell starting with one of these is a formula to Excel: such text gets a leading '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]


# Columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text, count, money, date, datetime
    width: int = 14


def _text(title: str, width: int = 18) -> Column:
    return Column(title, "text", width)


def _money(title: str) -> Column:
    return Column(title, "money", 14)


def _count(title: str) -> Column:
    return Column(title, "count", 10)


DIFFERENCE_COLUMNS = [
    _text("Key", 26),
    _text("Owner", 11),
    _count("Age (days)"),
    Column("Date", "date", 12),
    _text("Platform", 14),
    _text("Currency", 9),
    _money("Amount"),
    _text("AssociatedRef", 24),
    _text("Credit note", 13),
    _money("Expected credit"),
    _money("Settled"),
    _text("Detail", 70),
]

MATCHED_COLUMNS = [
    _text("Credit note", 13),
    _text("AssociatedRef", 24),
    _text("Return code", 13),
    Column("Date", "date", 12),
    _text("Platform", 14),
    _text("Currency", 9),
    _text("Method", 17),
    _text("Matched by", 18),
    Column("Matched at", "datetime", 17),
    _money("Gross"),
    _money("Expected credit"),
    _money("Difference"),
]

ACCEPTED_COLUMNS = [
    _text("Key", 26),
    _text("Cause", 24),
    _text("Owner", 11),
    Column("Date", "date", 12),
    _text("Platform", 14),
    _text("Currency", 9),
    _money("Amount"),
    _text("AssociatedRef", 24),
    _text("Credit note", 13),
    _text("Accepted by", 18),
    _text("Note", 40),
    _text("Detail", 70),
]

FIGURE_TITLES = {
    "platform_refunds": "Platform refunds",
    "store_credit": "Store credit",
    "expected_credit": "Expected credit",
    "posted": "Posted",
    "confirmed": "Confirmed",
}
# Per cause: (CauseTotal attribute, column title suffix, kind).
CAUSE_FIGURES = [
    ("count", "open count", "count"),
    ("amount", "open amount", "money"),
    ("accepted_count", "accepted count", "count"),
    ("accepted_amount", "accepted amount", "money"),
]


def summary_columns() -> list[Column]:
    columns = [_text("Platform", 16), _text("Currency", 9)]
    columns += [_money(FIGURE_TITLES[name]) for name in FIGURES]
    for cause in CAUSE_ORDER:
        for _, suffix, kind in CAUSE_FIGURES:
            columns.append(Column(f"{cause} {suffix}", kind, 14))
    return columns


# Writing one sheet to the workbook and its CSV ------------------------------------------


def _money_value(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(PENNY)


def _csv_value(column: Column, value) -> str:
    if value is None:
        return ""
    if column.kind == "money":
        return f"{_money_value(value):.2f}"
    if column.kind == "date":
        return value.isoformat()
    if column.kind == "datetime":
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"
    text = str(value)
    return f"'{text}" if column.kind == "text" and text.startswith(FORMULA_START) else text


class SheetWriter:
    """One sheet: rows appended to the write-only worksheet and to its CSV together."""

    def __init__(self, workbook: Workbook, title: str, columns: list[Column], csv_path: Path):
        self.workbook, self.title, self.columns = workbook, title, columns
        self.csv_path = csv_path
        self.rows = 0
        self._parts = 0
        self._file = csv_path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow([column.title for column in columns])
        self._new_worksheet()

    def _new_worksheet(self) -> None:
        self._parts += 1
        title = self.title if self._parts == 1 else f"{self.title} {self._parts}"
        self.sheet = self.workbook.create_sheet(title[:31])
        for number, column in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(number)].width = column.width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for column in self.columns:
            cell = WriteOnlyCell(self.sheet, value=column.title)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)
        self._sheet_rows = 0

    def _cell(self, column: Column, value):
        if value is None:
            return None
        if column.kind == "money":
            cell = WriteOnlyCell(self.sheet, value=_money_value(value))
            cell.number_format = MONEY_FORMAT
        elif column.kind == "date":
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DATE_FORMAT
        elif column.kind == "datetime":
            # Excel has no time zones: the hub's local time, as the screens show it.
            cell = WriteOnlyCell(self.sheet, value=timezone.localtime(value).replace(tzinfo=None))
            cell.number_format = DATETIME_FORMAT
        elif column.kind == "count":
            return int(value)
        else:
            cell = WriteOnlyCell(self.sheet, value=str(value))
            cell.data_type = "s"  # text from outside ("=…") must never become a formula
        return cell

    def append(self, values: list) -> None:
        if self._sheet_rows >= SHEET_MAX_ROWS:
            self._new_worksheet()
        self.sheet.append([self._cell(c, v) for c, v in zip(self.columns, values, strict=True)])
        self._csv.writerow([_csv_value(c, v) for c, v in zip(self.columns, values, strict=True)])
        self._sheet_rows += 1
        self.rows += 1

    def close(self) -> None:
        self._file.close()


# The pack -----------------------------------------------------------------------------


@dataclass
class PackResult:
    period: str
    xlsx: Path
    csvs: dict[str, Path]  # sheet name -> its CSV
    rows: dict[str, int]  # sheet name -> data rows written
    summary: dict[str, Any]  # JSON-able: amounts as strings
    warnings: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def paths(self) -> list[Path]:
        return [self.xlsx, *self.csvs.values()]


def file_stem(period: Period) -> str:
    return f"reconciliation-{period}"


def _read(period: Period, *, cause: str | None, state: str, today: date) -> Iterator[list]:
    """A cause's (or every cause's) rows in keyset pages of ``PAGE``: one page in memory."""
    after = None
    while True:
        page = differences.rows(
            period, cause=cause, state=state, after=after, limit=PAGE, today=today
        )
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = differences.position(page[-1])


def _difference_values(row: DifferenceRow) -> list:
    return [
        row.key,
        row.owner,
        row.age_days,
        row.on,
        row.platform,
        row.currency,
        row.amount,
        row.associated_ref,
        row.credit_note,
        row.expected_credit,
        row.settled,
        row.detail,
    ]


def _accepted_values(row: DifferenceRow) -> list:
    return [
        row.key,
        row.cause,
        row.owner,
        row.on,
        row.platform,
        row.currency,
        row.amount,
        row.associated_ref,
        row.credit_note,
        row.accepted_by,
        row.accepted_note,
        row.detail,
    ]


def _matched(period: Period) -> Iterator[list[tuple]]:
    """The credit notes dated in the period and matched to a posting, in keyset pages."""
    notes = (
        CreditNote.objects.filter(posting__isnull=False)
        .filter(period.days("issued_on"))
        .order_by("pk")
    )
    fields = (
        "pk",
        "code",
        "associated_ref",
        "return_code",
        "issued_on",
        "platform",
        "currency",
        "match_method",
        "matched_by",
        "matched_by_user__username",
        "matched_at",
        "gross",
        "expected_credit",
        "difference",
    )
    after = 0
    while True:
        page = list(notes.filter(pk__gt=after).values_list(*fields)[:PAGE])
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = page[-1][0]


def _matched_values(note: tuple) -> list:
    _, code, ref, return_code, issued_on, platform, currency, method, by, user, at, *money = note
    return [code, ref, return_code, issued_on, platform, currency, method, by or user, at, *money]


def _summary_values(platform_label: str, currency: str, figures: dict, causes: dict) -> list:
    values = [platform_label, currency]
    values += [figures[name] for name in FIGURES]
    for cause in CAUSE_ORDER:
        values += [causes[cause][name] for name, _, _ in CAUSE_FIGURES]
    return values


def _as_json(value):
    return f"{value:.2f}" if isinstance(value, Decimal) else value


def summarise(period: Period) -> dict[str, Any]:
    """The summary: ``totals`` as the period API gives them (platform None for a credit note
    raised by hand) and ``grand_totals`` per currency, amounts as Decimals."""
    groups, grand = [], {}
    for total in differences.totals(period):
        figures = {name: getattr(total, name) for name in FIGURES}
        causes = {
            cause.cause: {name: getattr(cause, name) for name, _, _ in CAUSE_FIGURES}
            for cause in total.causes
        }
        groups.append(
            {"platform": total.platform, "currency": total.currency, **figures, "causes": causes}
        )
        currency = grand.setdefault(
            total.currency,
            {
                "currency": total.currency,
                **dict.fromkeys(FIGURES, ZERO),
                "causes": {
                    cause: {name: 0 if kind == "count" else ZERO for name, _, kind in CAUSE_FIGURES}
                    for cause in CAUSE_ORDER
                },
            },
        )
        for name in FIGURES:
            currency[name] += figures[name]
        for cause, found in causes.items():
            for name in found:
                currency["causes"][cause][name] += found[name]
    return {
        "period": str(period),
        "totals": groups,
        "grand_totals": [grand[currency] for currency in sorted(grand)],
    }


def _jsonable(summary: dict) -> dict:
    def walk(value):
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return _as_json(value)

    return walk(summary)


def write_pack(
    period: Period,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    today: date | None = None,
) -> PackResult:
    """Write ``out_dir/reconciliation-YYYY-MM.xlsx`` and one CSV per sheet beside it.

    ``progress(done, total)`` is called after the summary and after each page of rows.
    ``today`` dates the rows' age (default: the hub's today).
    """
    today = today or timezone.localdate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(period)
    summary = summarise(period)
    open_counts = {cause: 0 for cause in CAUSE_ORDER}
    accepted_total = 0
    for group in summary["totals"]:
        for cause, found in group["causes"].items():
            open_counts[cause] += found["count"]
            accepted_total += found["accepted_count"]
    matched_total = (
        CreditNote.objects.filter(posting__isnull=False).filter(period.days("issued_on")).count()
    )
    total = (
        len(summary["totals"])
        + len(summary["grand_totals"])
        + sum(open_counts.values())
        + matched_total
        + accepted_total
    )
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, max(total, done))

    workbook = Workbook(write_only=True)
    csvs: dict[str, Path] = {}
    rows: dict[str, int] = {}

    def sheet(name: str, title: str, columns: list[Column]) -> SheetWriter:
        csvs[name] = out_dir / f"{stem}-{name}.csv"
        return SheetWriter(workbook, title, columns, csvs[name])

    writers: list[SheetWriter] = []
    try:
        writer = sheet("summary", "Summary", summary_columns())
        writers.append(writer)
        for group in summary["totals"]:
            label = group["platform"] or NO_PLATFORM
            writer.append(_summary_values(label, group["currency"], group, group["causes"]))
        for currency in summary["grand_totals"]:
            writer.append(
                _summary_values(ALL_PLATFORMS, currency["currency"], currency, currency["causes"])
            )
        rows["summary"] = writer.rows
        writer.close()
        report(writer.rows)

        for cause in CAUSE_ORDER:
            writer = sheet(cause, cause, DIFFERENCE_COLUMNS)
            writers.append(writer)
            for page in _read(period, cause=cause, state=differences.OPEN, today=today):
                for row in page:
                    writer.append(_difference_values(row))
                report(len(page))
            rows[cause] = writer.rows
            writer.close()

        writer = sheet("matched", "Matched", MATCHED_COLUMNS)
        writers.append(writer)
        for page in _matched(period):
            for note in page:
                writer.append(_matched_values(note))
            report(len(page))
        rows["matched"] = writer.rows
        writer.close()

        writer = sheet("accepted", "Accepted", ACCEPTED_COLUMNS)
        writers.append(writer)
        for page in _read(period, cause=None, state=differences.ACCEPTED, today=today):
            for row in page:
                writer.append(_accepted_values(row))
            report(len(page))
        rows["accepted"] = writer.rows
        writer.close()

        xlsx = out_dir / f"{stem}.xlsx"
        workbook.save(xlsx)
    finally:
        for writer in writers:
            writer.close()

    # Rows read after the summary may differ from it if the data moved meanwhile: say so.
    warnings = [
        f"{cause}: {rows[cause]} rows written, the summary counts {open_counts[cause]}"
        for cause in CAUSE_ORDER
        if rows[cause] != open_counts[cause]
    ]
    if rows["accepted"] != accepted_total:
        warnings.append(
            f"accepted: {rows['accepted']} rows written, the summary counts {accepted_total}"
        )
    if warnings:
        warnings.append("The data changed while the pack was written: write it again.")
    result_summary = _jsonable(summary)
    result_summary["rows"] = dict(rows)
    result_summary["warnings"] = warnings
    return PackResult(str(period), xlsx, csvs, rows, result_summary, warnings)


# The queued pack (the /finance/ button and its task) ---------------------------------


def request(period: Period | str, *, by=None) -> MonthEndPack:
    """Queue a pack for ``period`` asked for by the user ``by``; built by a task after commit."""
    period = period if isinstance(period, Period) else Period.parse(period)
    pack = MonthEndPack.objects.create(
        period=str(period), requested_by=by if getattr(by, "pk", None) else None
    )
    pack_id = pack.pk
    transaction.on_commit(lambda: enqueue(pack_id))
    return pack


def enqueue(pack_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        TASK,
        pack_id,
        task_name=f"month-end-pack-{pack_id}",
        group="month-end-pack",
        timeout=TASK_TIMEOUT,
    )


def _percent(done: int, total: int) -> int:
    # 100 only once the file is stored.
    return min(99, done * 100 // total) if total else 0


def claimable(now: datetime) -> Q:
    """Packs a builder may take: queued ones, and running ones whose builder went quiet."""
    return Q(status=PackStatus.QUEUED) | Q(status=PackStatus.RUNNING, beat_at__lt=now - LEASE)


def build_queued(pack_id: int) -> None:
    """Build a queued pack: claim it, write it, zip it into its ``file``, keep the summary.

    The claim is a conditional update (queued, or running with its lease run out ->
    running, stamped with this builder's ``started_at``), so of two workers given the same
    pack one builds it and the other returns; a pack being built, done or failed is left
    alone. Every later write names that stamp: a builder that lost its claim (it went quiet
    for a lease and another took over) changes nothing. A failure is recorded on the row
    (status failed, the error) and not raised: the task must not be retried into a pack
    that already says why it failed.
    """
    now = timezone.now()
    claimed = MonthEndPack.objects.filter(claimable(now), pk=pack_id).update(
        status=PackStatus.RUNNING, started_at=now, beat_at=now, progress=0, rows=0, error=""
    )
    if not claimed:
        logger.info("Month-end pack %s is not queued: left alone", pack_id)
        return
    mine = MonthEndPack.objects.filter(pk=pack_id, status=PackStatus.RUNNING, started_at=now)
    pack = MonthEndPack.objects.get(pk=pack_id)
    written = {"percent": -1, "beat": now}

    def keep_progress(done: int, total: int) -> None:
        percent, at = _percent(done, total), timezone.now()
        # At most a hundred progress writes whatever the rows, and a beat every BEAT_EVERY.
        if percent != written["percent"] or at - written["beat"] >= BEAT_EVERY:
            mine.update(progress=percent, rows=done, beat_at=at)
            written.update(percent=percent, beat=at)

    work = Path(tempfile.mkdtemp(prefix="month-end-pack-"))
    try:
        period = Period.parse(pack.period)
        result = write_pack(period, work, progress=keep_progress)
        archive = work / f"{file_stem(period)}.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for path in result.paths:
                zipped.write(path, arcname=path.name)
        with archive.open("rb") as stream:
            pack.file.save(archive.name, File(stream), save=False)
        finished = mine.update(
            file=pack.file.name,
            summary=result.summary,
            rows=result.total_rows,
            progress=100,
            status=PackStatus.DONE,
            finished_at=timezone.now(),
        )
        if not finished:
            pack.file.delete(save=False)  # another builder took the pack over: its file stands
            logger.warning("Month-end pack %s was taken over; this build is dropped", pack_id)
    except Exception as error:
        logger.exception("Month-end pack %s failed", pack_id)
        mine.update(
            status=PackStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(error).__name__}: {error}",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def requeue_stalled(now: datetime | None = None) -> int:
    """Hand out again the packs whose builder went quiet (its worker was killed): a new
    task claims each through ``build_queued``'s claim. The number handed out."""
    now = now or timezone.now()
    stalled = list(
        MonthEndPack.objects.filter(status=PackStatus.RUNNING, beat_at__lt=now - LEASE)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for pack_id in stalled:
        logger.warning("Month-end pack %s lost its builder; handed out again", pack_id)
        enqueue(pack_id)
    return len(stalled)
