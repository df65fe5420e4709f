"""The month-end pack: an XLSX whose Summary equals the period API, one sheet per cause,
the matched credit notes and the accepted differences, with one CSV per sheet."""

import csv
import threading
import zipfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from reconciliation.choices import PackStatus
from reconciliation.models import Acceptance, CreditNote, MonthEndPack
from reconciliation.services import differences, month_end_pack
from reconciliation.services.differences import CAUSE_ORDER, Period, PeriodInvalid
from reconciliation.services.differences import DifferenceCause as C
from returns_hub import schedules
from tests.concurrency import at_once
from tests.reconciliation.hub import TODAY, at, build_march

MARCH = Period.parse("2025-03")
PENNY = Decimal("0.01")
SHEETS = ["Summary", *CAUSE_ORDER, "Matched", "Accepted"]
CSV_NAMES = ["summary", *CAUSE_ORDER, "matched", "accepted"]
MATCHED = [f"CN00104{n}" for n in (81, 82, 83, 84, 85, 86, 87, 89)]


@pytest.fixture
def march(db, role_users):
    """March 2025 as the fixtures tell it: the eight postings the export confirms (RB-884512
    £5.00 short, CN0010488 raised by hand), and one row of every other cause."""
    return build_march(role_users["finance"], april_timing=False)


@pytest.fixture
def media(settings):
    return settings.MEDIA_ROOT


# Reading a pack back ------------------------------------------------------------------


def sheet_rows(path: Path, title: str) -> list[tuple]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in workbook[title].iter_rows(values_only=True)]
    finally:
        workbook.close()


def records(path: Path, title: str) -> list[dict]:
    header, *body = sheet_rows(path, title)
    return [dict(zip(header, row, strict=True)) for row in body]


def money(value) -> Decimal:
    """A number read back from the XLSX, as the Decimal it was written from."""
    return Decimal(str(value)).quantize(PENNY)


def write(tmp_path, period=MARCH, **options) -> month_end_pack.PackResult:
    return month_end_pack.write_pack(period, tmp_path / "pack", today=TODAY, **options)


# The command ------------------------------------------------------------------------


def test_the_command_writes_the_xlsx_and_a_csv_per_sheet(march, tmp_path, capsys):
    out = tmp_path / "new" / "folder"
    call_command("month_end_pack", period="2025-03", out=str(out))
    xlsx = out / "reconciliation-2025-03.xlsx"
    assert xlsx.is_file()
    assert load_workbook(xlsx, read_only=True).sheetnames == SHEETS
    assert sorted(p.name for p in out.glob("*.csv")) == sorted(
        f"reconciliation-2025-03-{name}.csv" for name in CSV_NAMES
    )
    printed = capsys.readouterr()
    last = printed.out.strip().splitlines()[-1]
    assert last.startswith(f"Month-end pack 2025-03: {xlsx} and 11 CSVs in {out}")
    assert "matched 8" in last
    assert "credit_note_differs 1" in last


@pytest.mark.parametrize("period", ["2025-13", "2025-3", "march", ""])
def test_a_bad_period_is_a_command_error(db, tmp_path, period):
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("month_end_pack", period=period, out=str(tmp_path))
    assert not list(tmp_path.iterdir())


# The Summary equals the period API -------------------------------------------------------


def test_the_summary_equals_the_period_api(march, tmp_path, api_client_for):
    result = write(tmp_path)
    body = api_client_for("finance").get("/api/v1/reconciliation/periods/2025-03/").json()
    assert len(body["totals"]) == 6  # five platforms and the hand-raised note's none
    summary = {(row["Platform"], row["Currency"]): row for row in records(result.xlsx, "Summary")}
    grand = {}
    for group in body["totals"]:
        label = group["platform"] or month_end_pack.NO_PLATFORM
        row = summary.pop((label, group["currency"]))
        totals = grand.setdefault(group["currency"], {})
        for name in differences.FIGURES:
            title = month_end_pack.FIGURE_TITLES[name]
            assert money(row[title]) == Decimal(group[name]), (label, name)
            totals[title] = totals.get(title, Decimal(0)) + Decimal(group[name])
        for cause in group["causes"]:
            for name, value in cause.items():
                if name == "cause":
                    continue
                suffix = dict((n, s) for n, s, _ in month_end_pack.CAUSE_FIGURES)[name]
                title = f"{cause['cause']} {suffix}"
                found = row[title]
                if name.endswith("count"):
                    assert found == value, (label, title)
                    totals[title] = totals.get(title, 0) + value
                else:
                    assert money(found) == Decimal(value), (label, title)
                    totals[title] = totals.get(title, Decimal(0)) + Decimal(value)
    # What is left are the grand totals, one per currency, adding up the platforms.
    assert set(summary) == {(month_end_pack.ALL_PLATFORMS, "GBP")}
    row = summary[(month_end_pack.ALL_PLATFORMS, "GBP")]
    for title, value in grand["GBP"].items():
        assert (row[title] if isinstance(value, int) else money(row[title])) == value, title
    assert money(row["Confirmed"]) == Decimal("804.98")
    assert row["credit_note_differs open amount"] is not None
    # The JSON summary kept on a pack says the same, amounts as strings.
    rebound = next(g for g in result.summary["totals"] if g["platform"] == "rebound")
    assert rebound["confirmed"] == "294.00"
    assert rebound["causes"]["credit_note_differs"]["amount"] == "-5.00"
    assert result.summary["grand_totals"][0]["confirmed"] == "804.98"


def test_money_is_a_number_with_two_decimals(march, tmp_path):
    result = write(tmp_path)
    workbook = load_workbook(result.xlsx)  # not read-only: cell styles
    rebound = next(row for row in workbook["Summary"].iter_rows() if row[0].value == "rebound")
    confirmed = rebound[2 + list(differences.FIGURES).index("confirmed")]
    assert confirmed.data_type == "n"
    assert confirmed.number_format == "#,##0.00"
    assert money(confirmed.value) == Decimal("294.00")
    amount = workbook["credit_note_differs"]["G2"]
    assert (amount.value, amount.number_format) == (-5, "#,##0.00")
    assert workbook["credit_note_differs"]["D2"].number_format == "yyyy-mm-dd"


# One sheet per cause, the matched list, the accepted ------------------------------------


def test_one_sheet_per_cause_with_its_open_rows(march, tmp_path):
    result = write(tmp_path)
    for cause in CAUSE_ORDER:
        expected = differences.rows(MARCH, cause=cause, today=TODAY)
        found = records(result.xlsx, cause)
        assert [row["Key"] for row in found] == [row.key for row in expected], cause
        for row, difference in zip(found, expected, strict=True):
            assert row["Owner"] == difference.owner
            assert row["Age (days)"] == difference.age_days
            assert row["Date"].date() == difference.on
            assert row["Platform"] == difference.platform
            assert money(row["Amount"]) == difference.amount
            assert row["Detail"] == (difference.detail or None)
        assert result.rows[cause] == len(expected)
    (rb,) = records(result.xlsx, C.CREDIT_NOTE_DIFFERS)
    assert (rb["AssociatedRef"], rb["Credit note"], rb["Owner"]) == (
        "RB-884512",
        "CN0010486",
        "finance",
    )
    assert (money(rb["Amount"]), money(rb["Expected credit"])) == (
        Decimal("-5.00"),
        Decimal("179.00"),
    )
    assert rb["Age (days)"] == (TODAY - rb["Date"].date()).days == 30
    (by_hand,) = records(result.xlsx, C.RAISED_BY_HAND)
    assert (by_hand["Credit note"], by_hand["Platform"], money(by_hand["Amount"])) == (
        "CN0010488",
        None,
        Decimal("15.00"),
    )
    assert by_hand["AssociatedRef"] is None
    (timing,) = records(result.xlsx, C.REFUNDED_NOT_GRADED)
    assert (timing["AssociatedRef"], timing["Owner"], timing["Age (days)"]) == (
        "HR-timing-1014",
        "warehouse",
        16,
    )
    assert [r["AssociatedRef"] for r in records(result.xlsx, C.POSTED_NOT_CONFIRMED)] == [
        "LOOP-5002",
        "LOOP-5004",
    ]
    (outside,) = records(result.xlsx, C.HANDLED_OUTSIDE)
    assert "Refunded by bank transfer" in outside["Detail"]


def test_the_matched_sheet_lists_the_matched_credit_notes(march, tmp_path):
    result = write(tmp_path)
    matched = records(result.xlsx, "Matched")
    assert [row["Credit note"] for row in matched] == MATCHED
    assert result.rows["matched"] == 8
    rb = next(row for row in matched if row["AssociatedRef"] == "RB-884512")
    assert (rb["Method"], rb["Platform"], rb["Currency"], rb["Return code"]) == (
        "associated_ref",
        "rebound",
        "GBP",
        "SR0007736",
    )
    assert rb["Matched by"]
    assert isinstance(rb["Matched at"], datetime)
    assert (money(rb["Gross"]), money(rb["Expected credit"]), money(rb["Difference"])) == (
        Decimal("174.00"),
        Decimal("179.00"),
        Decimal("-5.00"),
    )
    # The matched notes' gross is the summary's "confirmed".
    assert sum(money(row["Gross"]) for row in matched) == Decimal("804.98")


def test_an_accepted_difference_moves_to_the_accepted_sheet(march, tmp_path, role_users):
    (loop_5002,) = [
        row
        for row in differences.rows(MARCH, cause=C.POSTED_NOT_CONFIRMED)
        if row.associated_ref == "LOOP-5002"
    ]
    Acceptance.objects.create(
        cause=C.POSTED_NOT_CONFIRMED,
        object_id=int(loop_5002.key.split(":")[1]),
        platform="loop",
        currency="GBP",
        amount=loop_5002.amount,
        accepted_by="finance-user",
        accepted_by_user=role_users["finance"],
        accepted_at=timezone.now(),
        note="Khaos credited it by hand",
    )
    result = write(tmp_path)
    (accepted,) = records(result.xlsx, "Accepted")
    assert (accepted["Key"], accepted["Cause"], accepted["AssociatedRef"]) == (
        loop_5002.key,
        C.POSTED_NOT_CONFIRMED,
        "LOOP-5002",
    )
    assert (accepted["Accepted by"], accepted["Note"]) == (
        "finance-user",
        "Khaos credited it by hand",
    )
    assert money(accepted["Amount"]) == Decimal("59.00")
    assert [r["AssociatedRef"] for r in records(result.xlsx, C.POSTED_NOT_CONFIRMED)] == [
        "LOOP-5004"
    ]
    loop = next(g for g in result.summary["totals"] if g["platform"] == "loop")
    assert loop["causes"][C.POSTED_NOT_CONFIRMED]["accepted_count"] == 1
    assert loop["causes"][C.POSTED_NOT_CONFIRMED]["accepted_amount"] == "59.00"
    assert not result.warnings


# The CSVs -----------------------------------------------------------------------------

KINDS = {
    column.title: column.kind
    for columns in (
        month_end_pack.summary_columns(),
        month_end_pack.DIFFERENCE_COLUMNS,
        month_end_pack.MATCHED_COLUMNS,
        month_end_pack.ACCEPTED_COLUMNS,
    )
    for column in columns
}


def as_csv_text(title: str, value) -> str:
    """A sheet's cell as its CSV writes it."""
    kind = KINDS[title]
    if value is None:
        return ""
    if kind == "money":
        return f"{money(value):.2f}"
    if kind == "date":
        return value.date().isoformat()
    if kind == "datetime":
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if kind == "text" and str(value).startswith(month_end_pack.FORMULA_START):
        return f"'{value}"
    return str(value)


def test_each_csv_equals_its_sheet(march, tmp_path):
    CreditNote.objects.create(
        code="=1+2", issued_on=at(20).date(), net=1, tax=0, gross=1, currency="GBP"
    )
    result = write(tmp_path)
    assert list(result.csvs) == CSV_NAMES
    for title, name in zip(SHEETS, CSV_NAMES, strict=True):
        raw = result.csvs[name].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name  # UTF-8 with BOM: Excel reads it so
        assert raw.count(b"\r\n") == raw.count(b"\n") == result.rows[name] + 1, name
        with result.csvs[name].open(encoding="utf-8-sig", newline="") as stream:
            from_csv = list(csv.reader(stream))
        header, *body = sheet_rows(result.xlsx, title)
        assert from_csv[0] == list(header), name
        assert from_csv[1:] == [
            [as_csv_text(t, v) for t, v in zip(header, row, strict=True)] for row in body
        ], name
    # Text that looks like a formula stays text: a string cell, and quoted in the CSV.
    workbook = load_workbook(result.xlsx)
    notes = [c for (c,) in workbook[C.RAISED_BY_HAND].iter_rows(min_col=9, max_col=9)]
    assert [c.value for c in notes] == ["Credit note", "CN0010488", "=1+2"]
    assert notes[2].data_type == "s"
    assert "'=1+2" in result.csvs[C.RAISED_BY_HAND].read_text(encoding="utf-8-sig")


def test_a_sheet_longer_than_excel_allows_goes_on_in_another(march, tmp_path, monkeypatch):
    monkeypatch.setattr(month_end_pack, "SHEET_MAX_ROWS", 1)
    result = write(tmp_path)
    names = load_workbook(result.xlsx, read_only=True).sheetnames
    assert "posted_not_confirmed 2" in names
    first = records(result.xlsx, C.POSTED_NOT_CONFIRMED)
    second = records(result.xlsx, f"{C.POSTED_NOT_CONFIRMED} 2")
    assert [r["AssociatedRef"] for r in first + second] == ["LOOP-5002", "LOOP-5004"]
    text = result.csvs[C.POSTED_NOT_CONFIRMED].read_text(encoding="utf-8-sig")
    assert len(text.splitlines()) == 3  # the CSV has no limit: one file


# Bounded queries and streaming -------------------------------------------------------


def test_the_queries_do_not_grow_with_the_rows(march, tmp_path, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as first:
        write(tmp_path)
    # The totals (a query per figure and per cause), the matched count and list, and a page
    # per cause sheet and per cause of the accepted sheet.
    assert len(first) <= len(differences.FIGURES) + 3 * len(C) + 2
    for n in range(200):
        march.posting("loop", f"LOOP-9{n:03d}", "10.00", ready=21)
    CreditNote.objects.bulk_create(
        CreditNote(
            code=f"CNX{n:05d}", issued_on=at(22).date(), net=1, tax=0, gross=1, currency="GBP"
        )
        for n in range(300)
    )
    with django_assert_max_num_queries(len(first)):
        result = write(tmp_path)
    assert result.rows[C.POSTED_NOT_CONFIRMED] == 202
    assert result.rows[C.RAISED_BY_HAND] == 301


def test_a_large_month_streams_in_pages(db, tmp_path, monkeypatch):
    count = 2 * month_end_pack.PAGE + 17
    CreditNote.objects.bulk_create(
        (
            CreditNote(
                code=f"CN{n:08d}",
                issued_on=at(1 + n % 28).date(),
                net=Decimal("10.00"),
                tax=Decimal("2.00"),
                gross=Decimal("12.00"),
                currency="GBP",
            )
            for n in range(count)
        ),
        batch_size=5_000,
    )
    pages = []
    real_rows = differences.rows

    def counted(*args, **kwargs):
        found = real_rows(*args, **kwargs)
        if kwargs.get("cause") == C.RAISED_BY_HAND:
            pages.append((kwargs["limit"], len(found)))
        return found

    monkeypatch.setattr(differences, "rows", counted)
    seen = []
    result = write(tmp_path, progress=lambda done, total: seen.append((done, total)))
    page = month_end_pack.PAGE
    assert pages == [(page, page), (page, page), (page, 17)]
    assert result.rows[C.RAISED_BY_HAND] == count
    assert result.summary["grand_totals"][0]["causes"][C.RAISED_BY_HAND] == {
        "count": count,
        "amount": f"{12 * count}.00",
        "accepted_count": 0,
        "accepted_amount": "0.00",
    }
    with result.csvs[C.RAISED_BY_HAND].open(encoding="utf-8-sig", newline="") as stream:
        assert sum(1 for _ in csv.reader(stream)) == count + 1
    assert len(sheet_rows(result.xlsx, C.RAISED_BY_HAND)) == count + 1
    # Progress after each page, up to everything written.
    assert len(seen) >= 3
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == seen[-1][1] == result.total_rows


# The queued pack -----------------------------------------------------------------------


def test_a_queued_pack_is_built_once(march, media):
    pack = MonthEndPack.objects.create(period="2025-03")
    month_end_pack.build_queued(pack.pk)
    pack.refresh_from_db()
    assert (pack.status, pack.progress, pack.error) == (PackStatus.DONE, 100, "")
    assert pack.started_at <= pack.finished_at
    assert pack.file.name == "month-end/reconciliation-2025-03.zip"
    with zipfile.ZipFile(pack.file.path) as zipped:
        assert sorted(zipped.namelist()) == sorted(
            ["reconciliation-2025-03.xlsx"]
            + [f"reconciliation-2025-03-{name}.csv" for name in CSV_NAMES]
        )
    assert pack.rows == sum(pack.summary["rows"].values())
    assert pack.summary["rows"]["matched"] == 8
    rebound = next(g for g in pack.summary["totals"] if g["platform"] == "rebound")
    assert rebound["causes"]["credit_note_differs"]["amount"] == "-5.00"
    finished = pack.finished_at

    month_end_pack.build_queued(pack.pk)  # done: left alone
    pack.refresh_from_db()
    assert (pack.status, pack.finished_at) == (PackStatus.DONE, finished)
    assert len(list((Path(media) / "month-end").iterdir())) == 1


def test_a_failure_is_recorded_not_raised(march, media, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(month_end_pack, "write_pack", broken)
    pack = MonthEndPack.objects.create(period="2025-03")
    month_end_pack.build_queued(pack.pk)
    pack.refresh_from_db()
    assert pack.status == PackStatus.FAILED
    assert "No space left on device" in pack.error
    assert pack.finished_at is not None
    assert not pack.file
    monkeypatch.undo()
    month_end_pack.build_queued(pack.pk)  # failed: left alone, not retried
    pack.refresh_from_db()
    assert pack.status == PackStatus.FAILED


def test_a_pack_with_a_bad_period_fails(db, media):
    pack = MonthEndPack.objects.create(period="2025-13")
    month_end_pack.build_queued(pack.pk)
    pack.refresh_from_db()
    assert pack.status == PackStatus.FAILED
    assert "YYYY-MM" in pack.error


@pytest.mark.django_db(transaction=True)
def test_two_workers_build_a_pack_once(media, monkeypatch):
    CreditNote.objects.create(
        code="CN1", issued_on=at(3).date(), net=10, tax=2, gross=12, currency="GBP"
    )
    pack = MonthEndPack.objects.create(period="2025-03")
    real_write = month_end_pack.write_pack
    built = []

    def counted(*args, **kwargs):
        built.append(threading.get_ident())
        return real_write(*args, **kwargs)

    monkeypatch.setattr(month_end_pack, "write_pack", counted)
    _, errors = at_once(lambda: month_end_pack.build_queued(pack.pk))
    assert not errors
    assert len(built) == 1
    pack.refresh_from_db()
    assert pack.status == PackStatus.DONE
    assert pack.summary["rows"][C.RAISED_BY_HAND] == 1


def stalled_pack(*, quiet) -> MonthEndPack:
    """A pack a killed worker left running, its last beat ``quiet`` ago."""
    then = timezone.now() - quiet
    return MonthEndPack.objects.create(
        period="2025-03", status=PackStatus.RUNNING, started_at=then, beat_at=then, progress=40
    )


def test_a_pack_whose_builder_was_killed_is_built_again(march, media):
    pack = stalled_pack(quiet=month_end_pack.LEASE + timedelta(seconds=1))
    month_end_pack.build_queued(pack.pk)  # the task handed out again (django-q's retry)
    pack.refresh_from_db()
    assert (pack.status, pack.progress, pack.error) == (PackStatus.DONE, 100, "")
    assert pack.summary["rows"]["matched"] == 8
    assert pack.beat_at >= pack.started_at > timezone.now() - timedelta(minutes=1)


def test_a_pack_still_beating_is_left_to_its_builder(march, media):
    pack = stalled_pack(quiet=month_end_pack.LEASE - timedelta(seconds=30))
    month_end_pack.build_queued(pack.pk)
    pack.refresh_from_db()
    assert (pack.status, pack.progress, pack.file.name) == (PackStatus.RUNNING, 40, "")


def test_the_sweep_hands_out_only_packs_that_lost_their_builder(db, monkeypatch):
    lost = stalled_pack(quiet=month_end_pack.LEASE + timedelta(minutes=1))
    stalled_pack(quiet=timedelta(seconds=10))
    MonthEndPack.objects.create(period="2025-03")  # queued: its own task is on its way
    queued = []
    monkeypatch.setattr(month_end_pack, "enqueue", queued.append)
    assert month_end_pack.requeue_stalled() == 1
    assert queued == [lost.pk]
    assert "requeue-stalled-month-end-packs" in {s["name"] for s in schedules.SCHEDULES}


def test_a_builder_that_lost_its_claim_writes_nothing(march, media, monkeypatch):
    """Quiet past the lease (a long stall), another builder took the pack over and finished:
    the first one's file and figures are dropped, never laid over the second's."""
    pack = MonthEndPack.objects.create(period="2025-03")
    real_write = month_end_pack.write_pack

    def stalled_then_overtaken(*args, **kwargs):
        result = real_write(*args, **kwargs)
        later = timezone.now() + month_end_pack.LEASE + timedelta(seconds=1)
        with mock.patch.object(month_end_pack.timezone, "now", return_value=later):
            monkeypatch.setattr(month_end_pack, "write_pack", real_write)
            month_end_pack.build_queued(pack.pk)  # the second builder, start to finish
        return result

    monkeypatch.setattr(month_end_pack, "write_pack", stalled_then_overtaken)
    month_end_pack.build_queued(pack.pk)
    pack.refresh_from_db()
    assert pack.status == PackStatus.DONE
    assert pack.started_at > timezone.now()  # the second builder's claim stands
    assert len(list((Path(media) / "month-end").iterdir())) == 1


def test_request_queues_the_pack_and_the_task_builds_it_after_commit(
    march, media, role_users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        pack = month_end_pack.request("2025-03", by=role_users["finance"])
    assert (pack.status, pack.period, pack.requested_by) == (
        PackStatus.QUEUED,
        "2025-03",
        role_users["finance"],
    )
    assert len(callbacks) == 1  # nothing is queued before the row is committed
    callbacks[0]()  # tests run django-q synchronously: the task runs here
    pack.refresh_from_db()
    assert pack.status == PackStatus.DONE
    assert pack.file.name.endswith(".zip")


def test_request_hands_the_task_its_pack(
    db, role_users, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda *args, **kwargs: queued.append((args, kwargs))
    )
    with django_capture_on_commit_callbacks(execute=True):
        pack = month_end_pack.request(MARCH, by=role_users["finance"])
    ((args, kwargs),) = queued
    assert args == ("reconciliation.tasks.build_month_end_pack", pack.pk)
    assert kwargs["timeout"] == month_end_pack.TASK_TIMEOUT


def test_request_refuses_a_bad_period(db):
    with pytest.raises(PeriodInvalid):
        month_end_pack.request("2025-13", by=None)
    assert not MonthEndPack.objects.exists()
