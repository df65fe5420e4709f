from pathlib import Path

import tablib
from django.core.management.base import BaseCommand, CommandError

from returns_hub.resources import MAPPING_RESOURCES


def load_dataset(path: Path) -> tablib.Dataset:
    if path.suffix.lower() == ".xlsx":
        return tablib.Dataset().load(path.read_bytes(), format="xlsx")
    return tablib.Dataset().load(path.read_text(encoding="utf-8-sig"), format="csv")


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
        parser.add_argument("--apply", action="store_true", help="write the rows (else preview)")

    def handle(self, *args, **opts):
        path: Path = opts["file"]
        if not path.exists():
            raise CommandError(f"no such file: {path}")
        dataset = load_dataset(path)
        resource = MAPPING_RESOURCES[opts["table"]]()
        result = resource.import_data(dataset, dry_run=not opts["apply"], raise_errors=False)
        problems = [
            f"row {row.number}: "
            + "; ".join(str(e) for errs in row.error_dict.values() for e in errs)
            for row in result.invalid_rows
        ] + [f"row {n}: {e.error}" for n, errors in result.row_errors() for e in errors]
        totals = result.totals
        self.stdout.write(
            f"{opts['table']}: {len(dataset)} rows — new {totals.get('new', 0)}, "
            f"update {totals.get('update', 0)}, unchanged {totals.get('skip', 0)}, "
            f"errors {len(problems)}"
        )
        for problem in problems:
            self.stderr.write(f"  {problem}")
        if problems:
            raise CommandError("nothing was imported: fix the rows above")
        if not opts["apply"]:
            self.stdout.write("Preview only; run again with --apply to import.")
