from pathlib import Path

import tablib
from django.core.management.base import BaseCommand, CommandError

from returns_hub.resources import (
    MAPPING_RESOURCES,
    CustomerMappingResource,
    FileNotText,
    customer_outcomes,
    decode_text,
)

ROWS_LISTED = 200  # per outcome; the totals are always exact


def load_dataset(path: Path) -> tablib.Dataset:
    """The file's rows; a CSV may be UTF-8 or Windows-1252 (Khaos's exports on Windows)."""
    if path.suffix.lower() == ".xlsx":
        return tablib.Dataset().load(path.read_bytes(), format="xlsx")
    try:
        text, _ = decode_text(path.read_bytes())
    except FileNotText as error:
        raise CommandError(f"{path}: {error}") from error
    return tablib.Dataset().load(text, format="csv")


class Command(BaseCommand):
    help = (
        "Preview, then with --apply import, a mapping table from CSV or XLSX. "
        f"Tables: {', '.join(MAPPING_RESOURCES)}. The customers table also reads Khaos's "
        "customer export (COMPANY_CODE or URN, COMPANY_NAME, ADDRESS:ADDRESS1, ADDRESS:TOWN, "
        "ADDRESS:POSTCODE, ADDRESS:COUNTRY2_CODE, CONTACT:EMAIL, …)."
    )

    def add_arguments(self, parser):
        parser.add_argument("table", choices=list(MAPPING_RESOURCES))
        parser.add_argument("file", type=Path)
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="write the rows (else preview)")
        mode.add_argument(
            "--preview",
            action="store_true",
            help="show each row's outcome and write nothing (the default)",
        )

    def handle(self, *args, **opts):
        path: Path = opts["file"]
        if not path.exists():
            raise CommandError(f"no such file: {path}")
        dataset = load_dataset(path)
        resource = MAPPING_RESOURCES[opts["table"]]()
        result = resource.import_data(dataset, dry_run=not opts["apply"], raise_errors=False)
        # Rows as a spreadsheet shows them: the header is row 1.
        problems = [
            f"row {row.number + 1}: "
            + "; ".join(str(e) for errs in row.error_dict.values() for e in errs)
            for row in result.invalid_rows
        ] + [f"row {n + 1}: {e.error}" for n, errors in result.row_errors() for e in errors]
        totals = result.totals
        self.stdout.write(
            f"{opts['table']}: {len(dataset)} rows — new {totals.get('new', 0)}, "
            f"update {totals.get('update', 0)}, unchanged {totals.get('skip', 0)}, "
            f"errors {len(problems)}"
        )
        if isinstance(resource, CustomerMappingResource):
            self._list_rows(resource, result, verbosity=opts["verbosity"])
        for problem in problems:
            self.stderr.write(f"  {problem}")
        if problems:
            raise CommandError("nothing was imported: fix the rows above")
        if not opts["apply"]:
            self.stdout.write("Preview only; run again with --apply to import.")

    def _list_rows(self, resource, result, *, verbosity: int) -> None:
        """Each row that would change something (and, at -v 2, each unchanged row), by its
        row in the file; refused rows are listed on stderr below."""
        listed: dict[str, int] = {}
        for outcome in customer_outcomes(resource, result):
            if outcome.outcome == "refused" or (outcome.outcome == "unchanged" and verbosity < 2):
                continue
            listed[outcome.outcome] = listed.get(outcome.outcome, 0) + 1
            if listed[outcome.outcome] > ROWS_LISTED:
                continue
            detail = f": {outcome.detail}" if outcome.detail else ""
            self.stdout.write(f"  row {outcome.row} {outcome.outcome} {outcome.customer}{detail}")
        for outcome, count in listed.items():
            if count > ROWS_LISTED:
                self.stdout.write(f"  … and {count - ROWS_LISTED} more {outcome} rows")
