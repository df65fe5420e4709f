"""Import/export of the mapping tables (CSV/XLSX), keyed by their natural keys.

Column names are those of the mapping CSVs, so a file exported from one hub
imports into another, and re-importing the same file changes nothing.
"""

import codecs
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.results import RowResult

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


class FileNotText(ValueError):
    """The bytes are neither UTF-8 nor Windows-1252 text."""


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a CSV's bytes: UTF-8 (a byte order mark is dropped) or, when
    they are not UTF-8, Windows-1252, as Khaos and Excel on Windows write it."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as not_utf8:
        if data.startswith(codecs.BOM_UTF8):
            raise FileNotText(
                f"The file starts as UTF-8 but byte {not_utf8.start} is not UTF-8."
            ) from not_utf8
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FileNotText(
            f"The file is neither UTF-8 nor Windows-1252 text: byte "
            f"0x{data[error.start]:02X} on line {line}. Export it again as UTF-8 CSV."
        ) from error


class WindowsOrUtf8CSV(base_formats.CSV):
    """A CSV import format for the admin that reads UTF-8 or, failing that, Windows-1252
    (the admin's own CSV decodes UTF-8 only). Read as bytes so this format decides."""

    def get_title(self):
        return "csv"

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            in_stream, _ = decode_text(in_stream)
        return super().create_dataset(in_stream, **kwargs)


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


CUSTOMER_COLUMNS = ("email", "urn", "name", "line1", "town", "postcode", "country")
# The column names a customer file may use, ours and Khaos's (its customer export and
# import mapping: COMPANY_CODE is the URN, ADDRESS:COUNTRY2_CODE the ISO country code),
# compared without case, spaces or punctuation. Earlier names win when a file has both.
CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "contactemail",
        "e-mail",
        "contact:email",
        "address:address_email",
        "addressemail",
        "invoiceemail",
    ),
    "urn": (
        "urn",
        "companycode",
        "company_code",
        "customercode",
        "customerurn",
        "accountcode",
        "account",
    ),
    "name": ("name", "customername", "contactname", "company/name", "companyname", "company"),
    "forename": ("forename", "contact:forename", "firstname", "first name"),
    "surname": ("surname", "contact:surname", "lastname", "last name"),
    "line1": (
        "line1",
        "address1",
        "address:address1",
        "addressline1",
        "address 1",
        "iaddress1",
        "invoiceaddress1",
    ),
    "town": ("town", "address:town", "city", "towncity", "invoicetown", "itown"),
    "postcode": (
        "postcode",
        "address:postcode",
        "postalcode",
        "zip",
        "zipcode",
        "invoicepostcode",
        "ipostcode",
    ),
    "country": (
        "country",
        "countrycode",
        "country2code",
        "address:country2_code",
        "countryname",
        "address:country_name",
        "invoicecountry",
        "icountry",
    ),
}


def _column_key(name) -> str:
    return "".join(ch for ch in str(name or "").lower() if ch.isalnum())


def customer_columns(headers) -> dict[str, list[int]]:
    """Which of a file's columns give each of our fields, in order of preference."""
    keys = [_column_key(header) for header in headers or []]
    found: dict[str, list[int]] = {}
    for field_name, aliases in CUSTOMER_ALIASES.items():
        for alias in aliases:
            found.setdefault(field_name, [])
            found[field_name] += [
                n
                for n, key in enumerate(keys)
                if key == _column_key(alias) and n not in found[field_name]
            ]
    return {name: columns for name, columns in found.items() if columns}


class CustomerMappingResource(MappingResource):
    """Customer rows: email → URN, and the invoice name and address used when a platform
    sends none. Reads our own columns and Khaos's customer export (``customer_columns``);
    a row with no email cannot match any return and is skipped."""

    class Meta:
        model = CustomerMapping
        fields = CUSTOMER_COLUMNS
        import_id_fields = ("email",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True  # field validators: no control characters

    def before_import(self, dataset, **kwargs):
        """The file's columns, ours or Khaos's, as ours; other columns are not read."""
        super().before_import(dataset, **kwargs)
        self.changes: dict[int, dict[str, tuple[str, str]]] = {}  # row → column: (was, now)
        self.without_email: set[int] = set()
        columns = customer_columns(dataset.headers)
        rows = [self._customer(row, columns) for row in dataset]
        dataset.wipe()
        # A column the file does not have is not imported: an email,urn file keeps
        # the addresses already in the table.
        given = set(columns) | ({"name"} if {"forename", "surname"} & set(columns) else set())
        dataset.headers = [name for name in CUSTOMER_COLUMNS if name in given]
        for row in rows:
            dataset.append([row[c] for c in dataset.headers])

    @staticmethod
    def _customer(row, columns: dict[str, list[int]]) -> dict[str, str]:
        def first(name: str) -> str:
            for n in columns.get(name, ()):
                value = row[n] if n < len(row) else None
                text = "" if value is None else str(value)
                if text.strip():
                    return text  # as written: a control character in it is refused
            return ""

        person = " ".join(part.strip() for part in (first("forename"), first("surname")) if part)
        values = {name: first(name) for name in CUSTOMER_COLUMNS}
        values["name"] = person or values["name"]
        return values

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        row["email"] = (row.get("email") or "").strip().lower()

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not row.get("email"):
            return True  # no email: no return can ever match it
        return super().skip_row(instance, original, row, import_validation_errors)

    def after_import_row(self, row, row_result, **kwargs):
        """What a row changes, for the preview (the admin shows its own diff)."""
        super().after_import_row(row, row_result, **kwargs)
        number = kwargs.get("row_number")
        if not row.get("email"):
            self.without_email.add(number)
        elif row_result.import_type == RowResult.IMPORT_TYPE_UPDATE and row_result.original:
            was = row_result.original
            self.changes[number] = {
                name: (getattr(was, name), row[name])
                for name in CUSTOMER_COLUMNS
                if name in row and (getattr(was, name) or "") != (row[name] or "")
            }


@dataclass(frozen=True)
class RowOutcome:
    """One row of a customer file as the import found it."""

    row: int  # in the file: the header is row 1
    customer: str  # "email → URN", or the email alone
    outcome: str  # new, changed, unchanged, no email (skipped) or refused
    detail: str = ""


def customer_outcomes(resource: CustomerMappingResource, result) -> list[RowOutcome]:
    """Each row's outcome, in the file's order, from a customer import's result."""
    outcomes = []
    refused = {row.number: row for row in result.invalid_rows}
    errors = dict(result.row_errors())
    for number, row_result in enumerate(result.rows, start=1):
        email = ""
        if number in refused:
            invalid = refused[number]
            email = str(invalid.values[0] if invalid.values else "")
            reasons = "; ".join(str(e) for errs in invalid.error_dict.values() for e in errs)
            outcomes.append(RowOutcome(number + 1, email, "refused", reasons))
        elif number in errors:
            reasons = "; ".join(str(e.error) for e in errors[number])
            outcomes.append(RowOutcome(number + 1, email, "refused", reasons))
        elif number in resource.without_email:
            outcomes.append(RowOutcome(number + 1, "", "no email (skipped)"))
        elif row_result.import_type == RowResult.IMPORT_TYPE_NEW:
            outcomes.append(RowOutcome(number + 1, row_result.object_repr or email, "new"))
        elif row_result.import_type == RowResult.IMPORT_TYPE_UPDATE:
            changed = resource.changes.get(number, {})
            detail = ", ".join(f"{name} {was!r} → {now!r}" for name, (was, now) in changed.items())
            outcomes.append(
                RowOutcome(number + 1, row_result.object_repr or email, "changed", detail)
            )
        else:
            outcomes.append(RowOutcome(number + 1, row_result.object_repr or email, "unchanged"))
    return outcomes


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
