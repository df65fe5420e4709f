from django.core.management.base import BaseCommand, CommandError

from reconciliation.importers import FORMATS, FileRefused, import_credit_notes


class Command(BaseCommand):
    help = (
        "Import the Khaos credit note export (CSV or XLSX) and match it to the hub's return "
        "postings. Idempotent: a row already imported changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx; by default from the file's name."
        )

    def handle(self, *args, **options):
        path = options["file"]
        try:
            with open(path, "rb") as stream:
                result = import_credit_notes(stream, file_name=path, fmt=options["format"])
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        except FileRefused as error:
            raise CommandError(f"{path} refused, nothing imported: {error}") from error
        report = result.as_dict()
        self.stdout.write(
            f"{report['file_name']} ({report['format']}, import {report['import_id']}): "
            f"{report['rows']} rows"
        )
        for key in ("matched", "new", "unchanged", "unmatched", "refused", "confirmed"):
            self.stdout.write(f"  {key}: {report[key]}")
        for refusal in report["refused_rows"]:
            code = f" {refusal['code']}" if refusal["code"] else ""
            self.stdout.write(f"  refused row {refusal['row']}{code}: {refusal['reason']}")
        if report["refused"] > len(report["refused_rows"]):
            self.stdout.write(
                f"  … and {report['refused'] - len(report['refused_rows'])} more refused rows"
            )
