from django.core.management.base import BaseCommand, CommandError

from reconciliation.importers import FORMATS, FileRefused, import_credit_notes, preview

PROGRESS_EVERY = 10_000  # rows between progress lines: a month's file says nothing


class Command(BaseCommand):
    help = (
        "Import the Khaos credit note export (CSV or XLSX; UTF-8 or Windows-1252) and match "
        "it to the hub's return postings. Idempotent: a row already imported changes nothing. "
        "With --preview, say what the import would do and write no credit note."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx; by default from the file's name."
        )
        parser.add_argument(
            "--preview",
            action="store_true",
            help="read and check the whole file, show what would match, write no credit note "
            "(the file is kept: apply it from the API or the upload page by its import id)",
        )

    def handle(self, *args, **options):
        path = options["file"]
        run = preview if options["preview"] else import_credit_notes
        try:
            with open(path, "rb") as stream:
                result = run(
                    stream, file_name=path, fmt=options["format"], progress=self._progress()
                )
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        except FileRefused as error:
            kept = f" (import {error.import_id})" if error.import_id else ""
            raise CommandError(f"{path} refused{kept}, nothing imported: {error}") from error
        report = result.as_dict()
        encoding = f", {report['encoding']}" if report["encoding"] else ""
        self.stdout.write(
            f"{report['file_name']} ({report['format']}{encoding}, import {report['import_id']}): "
            f"{report['rows']} rows"
        )
        if options["preview"]:
            self._preview(report)
        else:
            for key in ("matched", "new", "unchanged", "unmatched", "refused", "confirmed"):
                self.stdout.write(f"  {key}: {report[key]}")
        for refusal in report["refused_rows"]:
            code = f" {refusal['code']}" if refusal["code"] else ""
            self.stdout.write(f"  refused row {refusal['row']}{code}: {refusal['reason']}")
        if report["refused"] > len(report["refused_rows"]):
            self.stdout.write(
                f"  … and {report['refused'] - len(report['refused_rows'])} more refused rows"
            )
        if options["preview"]:
            self.stdout.write(
                f"Preview only: no credit note written. Import {report['import_id']} keeps the "
                "file; run again without --preview to import it."
            )

    def _preview(self, report: dict) -> None:
        for key in (
            "new",
            "unchanged",
            "would_match_by_ref",
            "would_match_by_order",
            "matched_by_hand",
            "would_stay_unmatched",
            "refused",
        ):
            self.stdout.write(f"  {key}: {report[key]}")
        if report["applied_before"]:
            self.stdout.write(
                f"  the same file was applied before as import {report['applied_before']}"
            )
        for note in report["sample"]:
            match = (
                f"{note['match_method']} → {note['posting']} (difference {note['difference']})"
                if note["posting"]
                else f"unmatched: {note['unmatched_reason']}"
            )
            self.stdout.write(f"  new row {note['row']} {note['code']} {note['gross']}: {match}")

    def _progress(self):
        said = 0

        def tell(rows: int) -> None:
            nonlocal said
            if rows // PROGRESS_EVERY > said:
                said = rows // PROGRESS_EVERY
                self.stderr.write(f"… {rows:,} rows read")

        return tell
