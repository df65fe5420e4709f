"""/mappings/<table>/import/: upload → preview (nothing written) → confirm (every row or
none), CSV in UTF-8 or Windows-1252 and XLSX, and a held return moving on once its row
is imported."""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest

from connectors.loop.parser import parse_return
from returns_hub.choices import ExceptionKind, PostingState
from returns_hub.models import CustomerMapping, Return, SkuMapping
from returns_hub.services import ingest
from tests.conftest import fixture_bytes

pytestmark = pytest.mark.django_db

PLATFORM_SKU = "TEE-ORGANIC-WHITE-M"  # what the platform calls HF-TEE-ORG-WHT-M


def held_for_unknown_sku(connection) -> Return:
    """Loop return 5001, graded and refunded, its SKU one the hub cannot map."""
    body = fixture_bytes("loop/03_return_closed_5001_both_graded_refunded.json")
    # Its barcode would find the product too: the platform sends none here.
    text = body.decode().replace('"sku": "HF-TEE-ORG-WHT-M"', f'"sku": "{PLATFORM_SKU}"')
    payload = json.loads(text.replace('"barcode": "5061234202016"', '"barcode": ""'))
    ingest.apply_all(connection, parse_return(payload))
    return Return.objects.get(connection=connection, external_id=str(payload["id"]))


def csv_file(text: str, name="skus.csv", encoding="utf-8") -> io.BytesIO:
    upload = io.BytesIO(text.encode(encoding))
    upload.name = name
    return upload


def upload(client, table, upload):
    response = client.post(f"/mappings/{table}/import/", {"file": upload})
    assert response.status_code == 302, response.content[:2000]
    return response["Location"]


@pytest.fixture
def data(client, role_users):
    client.force_login(role_users["data"])
    return client


def test_a_preview_lists_every_row_and_writes_nothing(data):
    SkuMapping.objects.create(platform="loop", platform_sku="A-1", stock_code="HF-A1")
    SkuMapping.objects.create(platform="loop", platform_sku="B-1", stock_code="HF-B1")
    preview_url = upload(
        data,
        "skus",
        csv_file(
            "platform,platform_sku,stock_code\n"
            "loop,A-1,HF-A1\n"  # unchanged
            "loop,B-1,HF-B2\n"  # changed
            "swap,C-1,HF-C1\n"  # new
        ),
    )
    response = data.get(preview_url)
    assert response.status_code == 200
    rows = [(r.number, r.outcome) for r in response.context["preview"].rows]
    assert rows == [(2, "unchanged"), (3, "changed"), (4, "new")]
    changed = response.context["preview"].rows[1]
    assert "HF-B1 → HF-B2" in changed.detail
    assert b"Confirm import (2 rows to write)" in response.content
    # Nothing written by the preview, however often it is shown.
    data.get(preview_url)
    assert sorted(SkuMapping.objects.values_list("platform_sku", "stock_code")) == [
        ("A-1", "HF-A1"),
        ("B-1", "HF-B1"),
    ]

    response = data.post(f"{preview_url}confirm/")
    assert response.status_code == 302
    assert sorted(SkuMapping.objects.values_list("platform_sku", "stock_code")) == [
        ("A-1", "HF-A1"),
        ("B-1", "HF-B2"),
        ("C-1", "HF-C1"),
    ]
    # Applied once: the token is spent and its file removed.
    assert data.post(f"{preview_url}confirm/").status_code == 404
    assert data.get(preview_url).status_code == 404
    # Each imported row's history names who imported it.
    versions = data.get(
        f"/mappings/skus/{SkuMapping.objects.get(platform_sku='B-1').pk}/history/"
    ).context["versions"]
    assert (versions[0].kind, versions[0].who) == ("changed", "data-user")


def test_a_refused_row_is_shown_with_its_row_number_and_nothing_is_written(data):
    preview_url = upload(
        data,
        "skus",
        csv_file(
            "platform,platform_sku,stock_code\n"
            "loop,GOOD-1,HF-G1\n"
            "nowhere,BAD-1,HF-B1\n"  # not a platform
            "loop,GOOD-2,HF-G2\n"
        ),
    )
    response = data.get(preview_url)
    errors = [r for r in response.context["preview"].rows if r.outcome == "error"]
    assert [r.number for r in errors] == [3]
    assert "platform" in errors[0].detail and "nowhere" in errors[0].detail
    assert b"Confirm import" not in response.content
    assert re.search(rb'data-row="3"', response.content)
    # Confirming anyway (a crafted POST) writes nothing: the whole file rolls back.
    response = data.post(f"{preview_url}confirm/")
    assert response.status_code == 400
    assert not SkuMapping.objects.exists()


def test_a_file_the_table_refuses_on_confirm_writes_nothing(data):
    """Rows valid at the preview can be refused at the confirm (the table changed between):
    the import is still all or nothing."""
    from tests import factories

    factories.KhaosReturnReasonFactory(id=4, name="Write off", processing_type="write_off")
    preview_url = upload(
        data,
        "dispositions",
        csv_file(
            "platform,disposition,stock_action,khaos_return_reason_id,site_id\n"
            "loop,recycle,write_off,4,1\n"
            "loop,donate,write_off,4,1\n"
        ),
    )
    assert data.get(preview_url).context["preview"].counts == {"new": 2}
    # Meanwhile someone makes reason 4 restock: a donated item may not map to it.
    from returns_hub.models import KhaosReturnReason

    KhaosReturnReason.objects.filter(pk=4).update(processing_type="return_to_stock")
    response = data.post(f"{preview_url}confirm/")
    assert response.status_code == 400
    assert b"Not imported" in response.content
    from returns_hub.models import DispositionMapping

    assert not DispositionMapping.objects.exists()


def test_a_windows_1252_csv_imports_with_its_accents(data):
    preview_url = upload(
        data,
        "customers",
        csv_file(
            "email,urn,name,line1,town,postcode,country\n"
            "zoe@example.com,WEB77,Zoë Brontë,1 Rue Café,Bath,BA1 1AA,GB\n",
            name="customers.csv",
            encoding="cp1252",
        ),
    )
    assert data.get(preview_url).context["preview"].counts == {"new": 1}
    data.post(f"{preview_url}confirm/")
    row = CustomerMapping.objects.get()
    assert (row.name, row.line1) == ("Zoë Brontë", "1 Rue Café")


def test_an_xlsx_imports(data):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["platform", "platform_sku", "stock_code"])
    sheet.append(["rebound", "X-1", "HF-X1"])
    content = io.BytesIO()
    book.save(content)
    content.seek(0)
    content.name = "skus.xlsx"
    preview_url = upload(data, "skus", content)
    assert data.get(preview_url).context["preview"].counts == {"new": 1}
    data.post(f"{preview_url}confirm/")
    assert SkuMapping.objects.get().stock_code == "HF-X1"


def test_an_unreadable_file_or_a_missing_column_is_said_plainly(data):
    response = data.post("/mappings/skus/import/", {"file": csv_file("x", name="skus.pdf")})
    assert response.status_code == 400
    assert b"Choose a .csv or .xlsx file" in response.content

    broken = io.BytesIO(b"not a zip")
    broken.name = "skus.xlsx"
    response = data.get(upload(data, "skus", broken))
    assert response.status_code == 400
    assert b"could not be read as XLSX" in response.content

    response = data.get(upload(data, "skus", csv_file("platform,stock_code\nloop,HF-1\n")))
    assert b"Confirm import" not in response.content
    assert b"platform_sku" in response.content
    assert not SkuMapping.objects.exists()


def test_an_import_is_kept_for_the_person_who_uploaded_it(data, client, role_users):
    preview_url = upload(data, "skus", csv_file("platform,platform_sku,stock_code\nloop,A,HF-A\n"))
    from django.test import Client

    other = Client()
    other.force_login(role_users["admin"])
    assert other.get(preview_url).status_code == 404
    assert other.post(f"{preview_url}confirm/").status_code == 404
    # Nor does it open under another table's URL.
    assert data.get(preview_url.replace("/skus/", "/reasons/")).status_code == 404
    assert data.post(f"{preview_url}cancel/").status_code == 302
    assert data.get(preview_url).status_code == 404
    assert not SkuMapping.objects.exists()


def test_importing_the_missing_sku_row_moves_the_held_return_on(
    data, workspace, django_capture_on_commit_callbacks
):
    ret = held_for_unknown_sku(workspace.connections["loop"])
    case = ret.exceptions.get(kind=ExceptionKind.UNKNOWN_SKU, status="open")
    assert not ret.postings.filter(state=PostingState.READY).exists()

    preview_url = upload(
        data,
        "skus",
        csv_file(f"platform,platform_sku,stock_code\nloop,{PLATFORM_SKU},HF-TEE-ORG-WHT-M\n"),
    )
    # The preview's dry run moves nothing.
    with django_capture_on_commit_callbacks(execute=True):
        data.get(preview_url)
    case.refresh_from_db()
    assert case.status == "open"

    with django_capture_on_commit_callbacks(execute=True):
        assert data.post(f"{preview_url}confirm/").status_code == 302
    case.refresh_from_db()
    assert case.status == "resolved"
    assert ret.postings.get().state == PostingState.READY
    assert ret.postings.get().payload["ReturnedItems"][0]["SKU"] == "HF-TEE-ORG-WHT-M"


def test_adding_the_row_by_the_form_moves_the_held_return_on(
    data, workspace, django_capture_on_commit_callbacks
):
    ret = held_for_unknown_sku(workspace.connections["loop"])
    with django_capture_on_commit_callbacks(execute=True):
        response = data.post(
            "/mappings/skus/add/",
            {"platform": "loop", "platform_sku": PLATFORM_SKU, "stock_code": "HF-TEE-ORG-WHT-M"},
        )
    assert response.status_code == 302
    assert ret.exceptions.get(kind=ExceptionKind.UNKNOWN_SKU).status == "resolved"
    assert ret.postings.get().state == PostingState.READY


def test_an_exported_file_imports_back_unchanged(data, workspace):
    exported = data.get("/mappings/skus/export/?format=csv").content
    upload_file = io.BytesIO(exported)
    upload_file.name = "skus.csv"
    preview = data.get(upload(data, "skus", upload_file)).context["preview"]
    assert preview.counts == {"unchanged": SkuMapping.objects.count()}
