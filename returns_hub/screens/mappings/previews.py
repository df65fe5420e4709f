"""Running an import through the table's django-import-export resource (the same one
the admin and ``import_mappings`` use): a dry run for the preview, then the real one.

Each row comes out new, changed (with each field before → after), unchanged, or refused
with its row number in the file (the header is row 1) and the reason. The resource
rolls the whole file back when any row is refused, so a table is never half-imported;
rows are saved one by one (not in bulk), so each save sends the signals that move held
returns on (``returns_hub.signals``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from import_export.formats import base_formats
from import_export.results import RowResult

from returns_hub import resources
from returns_hub.screens.mappings.catalogue import Mapping

FORMATS = {"csv": resources.WindowsOrUtf8CSV, "xlsx": base_formats.XLSX}
ROWS_SHOWN = 2000  # every refused row is listed; the others up to this many
OUTCOMES = {
    RowResult.IMPORT_TYPE_NEW: "new",
    RowResult.IMPORT_TYPE_UPDATE: "changed",
    RowResult.IMPORT_TYPE_SKIP: "unchanged",
    RowResult.IMPORT_TYPE_DELETE: "deleted",
    RowResult.IMPORT_TYPE_ERROR: "error",
    RowResult.IMPORT_TYPE_INVALID: "error",
}


class FileUnreadable(ValueError):
    """The file is not a CSV or XLSX the import can read."""


@dataclass
class RowPreview:
    number: int  # in the file, as a spreadsheet numbers it: the header is row 1
    outcome: str  # new, changed, unchanged, error
    row: str  # the row's key, as the table shows it
    detail: str = ""


@dataclass
class ImportPreview:
    rows: list[RowPreview] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    problem: str = ""  # the file as a whole could not be imported (a missing column)

    @property
    def errors(self) -> int:
        return self.counts.get("error", 0) + (1 if self.problem else 0)

    @property
    def writes(self) -> int:
        return self.counts.get("new", 0) + self.counts.get("changed", 0)

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


def read_dataset(data: bytes, import_format: str):
    try:
        return FORMATS[import_format]().create_dataset(data)
    except resources.FileNotText as error:
        raise FileUnreadable(str(error)) from error
    except Exception as error:  # tablib and openpyxl raise many kinds on a broken file
        raise FileUnreadable(
            f"The file could not be read as {import_format.upper()}: {error}"
        ) from error


def previewing(resource_class: type) -> type:
    """The table's resource, also noting each changed row's fields before → after."""

    class Previewing(resource_class):
        def before_import(self, dataset, **kwargs):
            super().before_import(dataset, **kwargs)
            self.field_changes: dict[int, str] = {}
            self._saved = None

        def save_instance(self, instance, is_create, row, **kwargs):
            self._saved = instance
            super().save_instance(instance, is_create, row, **kwargs)

        def after_import_row(self, row, row_result, **kwargs):
            super().after_import_row(row, row_result, **kwargs)
            was, now = row_result.original, self._saved
            self._saved = None
            if row_result.import_type != RowResult.IMPORT_TYPE_UPDATE or not (was and now):
                return
            changed = []
            for model_field in now._meta.concrete_fields:
                before, after = getattr(was, model_field.attname), getattr(now, model_field.attname)
                if before != after:
                    changed.append(f"{model_field.verbose_name}: {before or '—'} → {after or '—'}")
            self.field_changes[kwargs.get("row_number")] = "; ".join(changed)

    Previewing.__name__ = f"Previewing{resource_class.__name__}"
    return Previewing


def _messages(error) -> str:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {message}" if name != "__all__" else message
            for name, errors in error.message_dict.items()
            for message in errors
        )
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)


def run(mapping: Mapping, dataset, *, dry_run: bool) -> ImportPreview:
    """Import ``dataset`` into the table (nothing kept when ``dry_run`` or any row is
    refused) and say what each row did."""
    resource = previewing(mapping.resource)()
    result = resource.import_data(dataset, dry_run=dry_run, raise_errors=False)
    preview = ImportPreview(total=len(result.rows))
    if result.base_errors:
        preview.problem = "; ".join(str(error.error) for error in result.base_errors)
    hidden_kept = 0
    for number, row_result in enumerate(result.rows, start=1):
        outcome = OUTCOMES.get(row_result.import_type, row_result.import_type)
        preview.counts[outcome] = preview.counts.get(outcome, 0) + 1
        if outcome != "error" and hidden_kept >= ROWS_SHOWN:
            continue
        if row_result.validation_error is not None:
            detail = _messages(row_result.validation_error)
        elif row_result.errors:
            detail = "; ".join(_messages(error.error) for error in row_result.errors)
        else:
            detail = getattr(resource, "field_changes", {}).get(number, "")
        if outcome != "error":
            hidden_kept += 1
        preview.rows.append(
            RowPreview(
                number + 1, outcome, row_result.object_repr or _row_key(dataset, number), detail
            )
        )
    return preview


def _row_key(dataset, number: int) -> str:
    """A refused row's first cells, so a person can find it in the file."""
    try:
        values = dataset[number - 1]
    except IndexError:
        return ""
    return ", ".join(str(value) for value in values[:3] if value not in (None, ""))
