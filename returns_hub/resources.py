"""Import/export of the mapping tables (CSV/XLSX), keyed by their natural keys.

Column names are those of the mapping CSVs, so a file exported from one hub
imports into another, and re-importing the same file changes nothing.
"""

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


class MappingResource(resources.ModelResource):
    """A mapping table's import: all rows or none."""

    def import_data(self, dataset, **kwargs):
        # A refused row rolls back the whole file, so a table is never half-imported.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, **kwargs)


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


class ReasonMappingResource(MappingResource):
    khaos_return_reason = _reason_field()

    class Meta:
        model = ReasonMapping
        fields = ("platform", "reason", "khaos_return_reason")
        import_id_fields = ("platform", "reason")
        skip_unchanged = True
        report_skipped = True


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

    def before_import_row(self, row, **kwargs):
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
