"""Write a period's month-end pack: the reconciliation XLSX and one CSV per sheet."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reconciliation.services import month_end_pack
from reconciliation.services.differences import Period, PeriodInvalid


class Command(BaseCommand):
    help = (
        "Write the period's reconciliation as DIR/reconciliation-YYYY-MM.xlsx (Summary, one "
        "sheet per difference cause, Matched, Accepted) and one CSV per sheet beside it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, as YYYY-MM")
        parser.add_argument("--out", required=True, help="the folder to write to (created)")

    def handle(self, *args, **options):
        try:
            period = Period.parse(options["period"])
        except PeriodInvalid as error:
            raise CommandError(str(error)) from error
        out = Path(options["out"])
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"Cannot create {out}: {error.strerror}") from error

        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:  # the total is known once the summary is read
                bar = tqdm(
                    total=total, unit="row", file=self.stderr, mininterval=1, desc=str(period)
                )
            bar.total = total
            bar.update(done - bar.n)

        try:
            result = month_end_pack.write_pack(period, out, progress=progress)
        except OSError as error:
            raise CommandError(f"Cannot write to {out}: {error.strerror}") from error
        finally:
            if bar is not None:
                bar.close()

        self.stdout.write(f"{result.xlsx}")
        for sheet, path in result.csvs.items():
            self.stdout.write(f"  {path}: {result.rows[sheet]} rows")
        for warning in result.warnings:
            self.stderr.write(f"Warning: {warning}")
        self.stdout.write(
            f"Month-end pack {period}: {result.xlsx} and {len(result.csvs)} CSVs in {out}, "
            f"{result.total_rows} rows "
            f"({', '.join(f'{sheet} {count}' for sheet, count in result.rows.items())})"
        )
