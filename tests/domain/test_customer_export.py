"""Khaos's customer export through the importer pattern: a preview of each row (new,
changed, unchanged, skipped, refused, by its row in the file), Windows-1252 accepted,
then applied."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from returns_hub.models import CustomerMapping
from returns_hub.resources import (
    CustomerMappingResource,
    FileNotText,
    WindowsOrUtf8CSV,
    decode_text,
)

pytestmark = pytest.mark.django_db

KHAOS_COLUMNS = (
    "COMPANY_CODE,COMPANY_NAME,CONTACT:FORENAME,CONTACT:SURNAME,ADDRESS:ADDRESS1,"
    "ADDRESS:ADDRESS2,ADDRESS:TOWN,ADDRESS:POSTCODE,ADDRESS:COUNTRY2_CODE,CONTACT:EMAIL,"
    "COMPCLASS_ID\r\n"
)
ROWS = (
    "WEB700,Café Müller,Zoë,Brontë,1 Rue Pâtisserie,,Saint-Étienne,42000,FR,zoe@example.com,"
    "Retail\r\n"
    "WEB701,Phone Order Ltd,,,1 Dock St,,Hull,HU1 1AA,GB,,Trade\r\n"
    "WEB702,£ Shop,Ann,Lee,2 High St,,York,YO1 1AA,GB,ann@example.com,Retail\r\n"
)
WINDOWS_EXPORT = (KHAOS_COLUMNS + ROWS).encode("cp1252")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_mappings", "customers", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_bytes_are_windows_1252():
    with pytest.raises(UnicodeDecodeError):
        WINDOWS_EXPORT.decode("utf-8")
    assert decode_text(WINDOWS_EXPORT) == ((KHAOS_COLUMNS + ROWS), "cp1252")
    assert decode_text(b"\xef\xbb\xbfemail\r\n")[1] == "utf-8"
    with pytest.raises(FileNotText, match="byte 0x81 on line 2"):
        decode_text(b"email\r\n\x81\r\n")


def test_a_windows_customer_export_previews_row_by_row_then_applies(tmp_path):
    CustomerMapping.objects.create(
        email="ann@example.com", urn="WEB702", name="Ann Lee", line1="2 High St", town="Leeds"
    )
    path = tmp_path / "customers.csv"
    path.write_bytes(WINDOWS_EXPORT)

    out, _ = run(path, "--preview")
    assert "new 1, update 1, unchanged 1, errors 0" in out
    assert "  row 2 new zoe@example.com → WEB700\n" in out
    assert "  row 3 no email (skipped)" in out
    assert "  row 4 changed ann@example.com → WEB702: town 'Leeds' → 'York'" in out
    assert "postcode '' → 'YO1 1AA'" in out and "Preview only" in out
    assert not CustomerMapping.objects.filter(email="zoe@example.com").exists()
    assert CustomerMapping.objects.get(email="ann@example.com").town == "Leeds"

    out, _ = run(path, "--apply")
    assert "new 1, update 1" in out and "Preview only" not in out
    zoe = CustomerMapping.objects.get(email="zoe@example.com")
    assert (zoe.urn, zoe.name, zoe.line1, zoe.town) == (
        "WEB700",
        "Zoë Brontë",
        "1 Rue Pâtisserie",
        "Saint-Étienne",
    )
    assert CustomerMapping.objects.get(email="ann@example.com").town == "York"

    out, _ = run(path, "--preview", "-v", "2")
    assert "new 0, update 0, unchanged 3" in out
    assert "  row 2 unchanged zoe@example.com → WEB700\n" in out


def test_refused_rows_are_named_by_their_row_in_the_file(tmp_path):
    path = tmp_path / "customers.csv"
    bad = 'WEB703,Bad,,,"1 Line\nBreak",,York,YO1,GB,bad@example.com,\r\n'
    path.write_bytes((KHAOS_COLUMNS + ROWS + bad).encode("cp1252"))
    with pytest.raises(CommandError, match="nothing was imported"):
        run(path, "--apply")
    assert not CustomerMapping.objects.filter(urn__in=["WEB700", "WEB702", "WEB703"]).exists()
    _, err = run_expecting_refusal(path)
    assert re.search(r"row 5: .*control character", err)


def run_expecting_refusal(path):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_mappings", "customers", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_file_that_is_no_text_is_refused(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(KHAOS_COLUMNS.encode() + b"WEB1,\x81\x8d\r\n")
    with pytest.raises(CommandError, match="neither UTF-8 nor Windows-1252"):
        run(path)
    with pytest.raises(CommandError):
        run(path, "--preview", "--apply")


def test_the_admin_s_format_reads_windows_1252_through_the_resource():
    dataset = WindowsOrUtf8CSV().create_dataset(WINDOWS_EXPORT)
    result = CustomerMappingResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert result.totals["new"] == 2
    assert CustomerMapping.objects.get(email="zoe@example.com").town == "Saint-Étienne"
    assert CustomerMapping.objects.get(email="ann@example.com").name == "Ann Lee"


def test_the_admin_previews_then_imports_a_windows_customer_export(client, role_users):
    import html

    client.force_login(role_users["admin"])
    upload = io.BytesIO(WINDOWS_EXPORT)
    upload.name = "khaos-customers.csv"
    url = reverse("admin:returns_hub_customermapping_import")
    preview = client.post(url, {"import_file": upload, "format": "0", "resource": "0"})
    page = preview.content.decode()
    assert preview.status_code == 200 and "Saint-Étienne" in page
    assert not CustomerMapping.objects.filter(email="zoe@example.com").exists()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    confirm = {k: html.unescape(v) for k, v in hidden.items() if k != "csrfmiddlewaretoken"}
    done = client.post(
        reverse("admin:returns_hub_customermapping_process_import"), confirm, follow=True
    )
    assert done.status_code == 200
    assert CustomerMapping.objects.get(email="zoe@example.com").line1 == "1 Rue Pâtisserie"
