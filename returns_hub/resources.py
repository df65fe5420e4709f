"""Import/export of the mapping tables (CSV/XLSX), keyed by their natural keys.

Column names are those of the mapping CSVs, so a file exported from one hub
imports into another, and re-importing the same file changes nothing.
"""

import re

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)


def _reason_field() -> fields.Field:
    return fields.Field(
        attribute="khaos_return_reason",
        column_name="khaos_return_reason_id",
        widget=widgets.ForeignKeyWidget(KhaosReturnReason, field="id"),
    )


# A cell a spreadsheet would read as a formula (CSV/formula injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What an XLSX cell cannot hold at all (openpyxl refuses it).
UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value):
    """A cell as exported: text a spreadsheet would run as a formula gets a leading
    apostrophe, so it shows as the text it is; characters no XLSX cell holds are dropped."""
    if not isinstance(value, str):
        return value
    value = UNWRITABLE.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape_cell(value):
    """An imported cell as data: the apostrophe ``safe_cell`` added is taken off, so a
    file exported by the hub imports unchanged."""
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class MappingResource(resources.ModelResource):
    """A mapping table's import: all rows or none. Its export is safe to open in a
    spreadsheet: formulas are written as text (and read back as the same data)."""

    def import_data(self, dataset, **kwargs):
        # A refused row rolls back the whole file, so a table is never half-imported.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, **kwargs)

    def before_import_row(self, row, **kwargs):
        errors = {}
        for column, value in list(row.items()):
            value = unescape_cell(value)
            if isinstance(value, str) and CONTROL.search(value):
                errors[column] = f"{column} contains a control character: {value[:40]!r}"
            row[column] = value
        if errors:
            raise ValidationError(errors)

    def export_field(self, field, instance, **kwargs):
        return safe_cell(super().export_field(field, instance, **kwargs))


class KhaosReturnReasonResource(MappingResource):
    class Meta:
        model = KhaosReturnReason
        fields = ("id", "name", "processing_type")
        import_id_fields = ("id",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # the model refuses restocking a non-return outcome


class SkuMappingResource(MappingResource):
    class Meta:
        model = SkuMapping
        fields = ("platform", "platform_sku", "stock_code")
        import_id_fields = ("platform", "platform_sku")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # field validators: no control characters


class ReasonMappingResource(MappingResource):
    khaos_return_reason = _reason_field()

    class Meta:
        model = ReasonMapping
        fields = ("platform", "reason", "khaos_return_reason")
        import_id_fields = ("platform", "reason")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # field validators: no control characters


class DispositionMappingResource(MappingResource):
    khaos_return_reason = _reason_field()

    class Meta:
        model = DispositionMapping
        fields = ("platform", "disposition", "stock_action", "khaos_return_reason", "site_id")
        import_id_fields = ("platform", "disposition")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # the model refuses restocking a non-return outcome


class CustomerMappingResource(MappingResource):
    class Meta:
        model = CustomerMapping
        fields = ("email", "urn")
        import_id_fields = ("email",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # field validators: no control characters

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        row["email"] = (row.get("email") or "").strip().lower()


# The tables in the order they load (reasons before the rows that name them),
# with the file names used by the demo workspace and the test fixtures.
MAPPING_FILES = [
    ("khaos_return_reasons", "khaos_return_reasons.csv"),
    ("sku_mappings", "sku_mappings.csv"),
    ("reason_mappings", "reason_mappings.csv"),
    ("disposition_mappings", "disposition_mappings.csv"),
    ("customers", "customers.csv"),
]

MAPPING_RESOURCES = {
    "khaos_return_reasons": KhaosReturnReasonResource,
    "sku_mappings": SkuMappingResource,
    "reason_mappings": ReasonMappingResource,
    "disposition_mappings": DispositionMappingResource,
    "customers": CustomerMappingResource,
}
