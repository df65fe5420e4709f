"""/mappings/: who may see and do what, the lists and their search, the row forms and
each row's audit trail, the export, and a page's fixed query count."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)
from tests import factories

pytestmark = pytest.mark.django_db

TABLES = ["skus", "reasons", "dispositions", "customers", "khaos-reasons"]
# The role matrix (returns_hub.roles) as these screens apply it.
VIEWERS = {
    "skus": {"finance", "data", "admin"},
    "reasons": {"finance", "data", "admin"},
    "dispositions": {"finance", "warehouse", "data", "admin"},
    "customers": {"finance", "cx", "data", "admin"},
    "khaos-reasons": {"finance", "warehouse", "cx", "data", "admin"},
}
EDITORS = {table: {"data", "admin"} for table in TABLES} | {"customers": {"cx", "data", "admin"}}
DELETERS = {table: {"data", "admin"} for table in TABLES}
ROLES = ["finance", "warehouse", "cx", "data", "admin", "nobody"]


@pytest.fixture
def rows(db):
    reason = factories.KhaosReturnReasonFactory(
        id=4, name="Faulty - write off", processing_type="write_off"
    )
    return {
        "skus": SkuMapping.objects.create(
            platform="loop", platform_sku="RAINJKT-STONE-M", stock_code="HF-OUT-RNC-STN-M"
        ),
        "reasons": ReasonMapping.objects.create(
            platform="loop", reason="Arrived damaged", khaos_return_reason=reason
        ),
        "dispositions": DispositionMapping.objects.create(
            platform="loop",
            disposition="recycle",
            stock_action="write_off",
            khaos_return_reason=reason,
            site_id=1,
        ),
        "customers": CustomerMapping.objects.create(email="ann@example.com", urn="WEB1"),
        "khaos-reasons": reason,
    }


def login(client, role_users, role):
    client.force_login(role_users[role])
    return client


def pages(table, pk):
    """Every page of a table, with the action whose permission it needs."""
    return [
        (f"/mappings/{table}/", "view"),
        (f"/mappings/{table}/export/?format=csv", "view"),
        (f"/mappings/{table}/{pk}/history/", "view"),
        (f"/mappings/{table}/add/", "add"),
        (f"/mappings/{table}/{pk}/", "change"),
        (f"/mappings/{table}/{pk}/delete/", "delete"),
        (f"/mappings/{table}/import/", "import"),
    ]


def allowed(table, action) -> set[str]:
    return {"view": VIEWERS, "delete": DELETERS}.get(action, EDITORS)[table]


# --- who may see and do what ------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_index_shows_each_team_the_tables_it_may_see(client, role_users, rows, role):
    response = login(client, role_users, role).get("/mappings/")
    if role == "nobody":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    for table in TABLES:
        shown = f'href="/mappings/{table}/"'.encode() in response.content
        assert shown == (role in VIEWERS[table]), (role, table)
        import_link = f'href="/mappings/{table}/import/"'.encode() in response.content
        assert import_link == (role in EDITORS[table]), (role, table)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_by_the_matrix(client, role_users, rows, table, role):
    login(client, role_users, role)
    for url, action in pages(table, rows[table].pk):
        expected = 200 if role in allowed(table, action) else 403
        assert client.get(url).status_code == expected, (url, role)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_writes_answer_each_role_by_the_matrix(client, role_users, rows, table, role):
    login(client, role_users, role)
    pk = rows[table].pk
    writes = [
        (f"/mappings/{table}/add/", "add"),
        (f"/mappings/{table}/{pk}/", "change"),
        (f"/mappings/{table}/{pk}/delete/", "delete"),
        (f"/mappings/{table}/import/", "import"),
        (f"/mappings/{table}/import/{'x' * 32}/confirm/", "import"),
    ]
    for url, action in writes:
        status = client.post(url, {}).status_code
        if role in allowed(table, action):
            assert status != 403, (url, role)
        else:
            assert status == 403, (url, role)
    # Only a team that may delete has deleted the row (the delete POST above).
    kept = rows[table].__class__.objects.filter(pk=pk).exists()
    assert kept == (role not in DELETERS[table] or table == "khaos-reasons")  # in use


@pytest.mark.parametrize("table", TABLES)
def test_anyone_not_logged_in_is_sent_to_log_in(client, rows, table):
    for url, _ in [("/mappings/", None), *pages(table, rows[table].pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/mappings/")


def test_every_post_needs_its_csrf_token(role_users, rows):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["data"])
    response = client.post(
        "/mappings/skus/add/",
        {"platform": "loop", "platform_sku": "X", "stock_code": "HF-X"},
    )
    assert response.status_code == 403
    assert not SkuMapping.objects.filter(platform_sku="X").exists()


def test_an_unknown_table_is_404(client, role_users):
    assert login(client, role_users, "data").get("/mappings/nothing/").status_code == 404


# --- lists and search -------------------------------------------------------------------


def _skus(count, prefix="SKU"):
    SkuMapping.objects.bulk_create(
        SkuMapping(platform="loop", platform_sku=f"{prefix}-{n:05d}", stock_code=f"HF-{n:05d}")
        for n in range(count)
    )


def _cells(response) -> list[str]:
    return [row.platform_sku for row in response.context["table"].data]


def test_search_finds_a_sku_by_its_code_or_the_start_of_it(client, role_users, rows):
    _skus(120)
    login(client, role_users, "data")
    assert _cells(client.get("/mappings/skus/?q=SKU-00042")) == ["SKU-00042"]
    assert _cells(client.get("/mappings/skus/?q=HF-00042")) == ["SKU-00042"]
    assert len(_cells(client.get("/mappings/skus/?q=SKU-0004"))) == 10
    # Typed in lower case, a code is found all the same.
    assert _cells(client.get("/mappings/skus/?q=rainjkt-stone")) == ["RAINJKT-STONE-M"]
    # A prefix search, never a "contains": the middle of a code finds nothing.
    assert _cells(client.get("/mappings/skus/?q=00042")) == []


def test_search_on_the_other_tables(client, role_users, rows):
    login(client, role_users, "data")
    found = client.get("/mappings/customers/?q=ANN@EXAMPLE").context["table"].data
    assert [row.email for row in found] == ["ann@example.com"]
    found = client.get("/mappings/customers/?q=web1").context["table"].data
    assert [row.urn for row in found] == ["WEB1"]
    found = client.get("/mappings/reasons/?q=Arrived").context["table"].data
    assert [row.reason for row in found] == ["Arrived damaged"]
    found = client.get("/mappings/dispositions/?q=recy").context["table"].data
    assert [row.disposition for row in found] == ["recycle"]
    found = client.get("/mappings/khaos-reasons/?q=4").context["table"].data
    assert [row.pk for row in found] == [4]
    found = client.get("/mappings/khaos-reasons/?q=faulty").context["table"].data
    assert [row.pk for row in found] == [4]


def test_the_search_uses_an_index_and_reads_keyset_pages(client, role_users, rows):
    """The query behind a search: prefixes (LIKE 'x%') and a range on the page's column,
    never an OFFSET."""
    _skus(120)
    login(client, role_users, "data")
    first = client.get("/mappings/skus/?q=SKU")
    assert len(first.context["table"].data) == 50
    next_url = first.context["next_url"]
    assert "after=" in next_url
    with CaptureQueriesContext(connection) as queries:
        second = client.get(f"/mappings/skus/{next_url}")
    sql = [q["sql"] for q in queries if "returns_hub_skumapping" in q["sql"]]
    assert sql and all("OFFSET" not in statement for statement in sql)
    assert "LIKE 'SKU%'" in sql[0]
    seen = set(_cells(first)) | set(_cells(second))
    assert len(seen) == 100


def test_a_filter_it_cannot_use_is_400_with_the_field_named(client, role_users, rows):
    response = login(client, role_users, "data").get("/mappings/skus/?platform=nowhere")
    assert response.status_code == 400
    assert b"Check the filters" in response.content
    assert client.get("/mappings/skus/?after=garbage").status_code == 400


@pytest.mark.parametrize("table", TABLES)
def test_a_list_costs_the_same_queries_for_one_row_or_thirty(client, role_users, rows, table):
    login(client, role_users, "data")
    client.get(f"/mappings/{table}/")  # the session and permissions warm up alike each time
    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/mappings/{table}/").status_code == 200
    _more_rows(table, 29)
    with CaptureQueriesContext(connection) as thirty:
        response = client.get(f"/mappings/{table}/")
    assert len(response.context["table"].data) == 30
    assert len(thirty) == len(one), [q["sql"] for q in thirty]


def _more_rows(table, count):
    reasons = [
        factories.KhaosReturnReasonFactory(
            id=100 + n, name=f"Reason {n}", processing_type="write_off"
        )
        for n in range(count if table in ("reasons", "dispositions", "khaos-reasons") else 0)
    ]
    if table == "skus":
        _skus(count, prefix="MORE")
    elif table == "customers":
        CustomerMapping.objects.bulk_create(
            CustomerMapping(email=f"c{n}@example.com", urn=f"WEB{n + 100}") for n in range(count)
        )
    elif table == "reasons":
        ReasonMapping.objects.bulk_create(
            ReasonMapping(platform="swap", reason=f"R{n}", khaos_return_reason=reason)
            for n, reason in enumerate(reasons)
        )
    elif table == "dispositions":
        DispositionMapping.objects.bulk_create(
            DispositionMapping(
                platform="swap",
                disposition=f"d{n}",
                stock_action="write_off",
                khaos_return_reason=reason,
                site_id=1,
            )
            for n, reason in enumerate(reasons)
        )


# --- add, edit, delete, with the audit trail -------------------------------------------


def test_data_adds_edits_and_deletes_a_row_and_its_history_says_who_and_what(
    client, role_users, rows
):
    login(client, role_users, "data")
    response = client.post(
        "/mappings/skus/add/",
        {"platform": "swap", "platform_sku": "TEE-OLD", "stock_code": "HF-TEE-1"},
    )
    assert response.status_code == 302
    row = SkuMapping.objects.get(platform="swap", platform_sku="TEE-OLD")
    assert client.get(response["Location"]).context["table"].data[0] == row

    response = client.post(
        f"/mappings/skus/{row.pk}/",
        {"platform": "swap", "platform_sku": "TEE-OLD", "stock_code": "HF-TEE-2"},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.stock_code == "HF-TEE-2"

    history = client.get(f"/mappings/skus/{row.pk}/history/")
    versions = history.context["versions"]
    assert [v.kind for v in versions] == ["changed", "added"]
    assert {v.who for v in versions} == {"data-user"}
    (change,) = versions[0].changes
    assert (change.name, change.before, change.after) == ("stock code", "HF-TEE-1", "HF-TEE-2")
    assert b"HF-TEE-1" in history.content and b"HF-TEE-2" in history.content

    assert client.post(f"/mappings/skus/{row.pk}/delete/").status_code == 302
    assert not SkuMapping.objects.filter(pk=row.pk).exists()
    # The history outlives the row.
    versions = client.get(f"/mappings/skus/{row.pk}/history/").context["versions"]
    assert [v.kind for v in versions] == ["deleted", "changed", "added"]


def test_the_models_validation_refuses_a_bad_row_with_its_reason(client, role_users, rows):
    login(client, role_users, "data")
    # Already mapped: the unique constraint.
    response = client.post(
        "/mappings/skus/add/",
        {"platform": "loop", "platform_sku": "RAINJKT-STONE-M", "stock_code": "HF-X"},
    )
    assert response.status_code == 400
    assert b"already exists" in response.content
    # A control character (the field validators).
    response = client.post(
        "/mappings/skus/add/", {"platform": "loop", "platform_sku": "A\x01B", "stock_code": "HF"}
    )
    assert response.status_code == 400
    # A non-return outcome may never restock (DispositionMapping.clean).
    restock = factories.KhaosReturnReasonFactory(id=3)
    response = client.post(
        "/mappings/dispositions/add/",
        {
            "platform": "loop",
            "disposition": "donate",
            "stock_action": "restock",
            "khaos_return_reason": restock.pk,
            "site_id": 1,
        },
    )
    assert response.status_code == 400
    assert b"non-return outcome" in response.content
    assert not DispositionMapping.objects.filter(disposition="donate").exists()
    # An email already mapped in another case.
    response = client.post("/mappings/customers/add/", {"email": "ANN@example.com ", "urn": "W2"})
    assert response.status_code == 400
    assert CustomerMapping.objects.count() == 1


def test_a_row_still_in_use_is_not_deleted_and_the_page_says_what_uses_it(client, role_users, rows):
    login(client, role_users, "data")
    response = client.post("/mappings/khaos-reasons/4/delete/")
    assert response.status_code == 409
    assert b"still in use by" in response.content
    assert KhaosReturnReason.objects.filter(pk=4).exists()


def test_a_khaos_reasons_id_is_set_once(client, role_users, rows):
    login(client, role_users, "data")
    response = client.post(
        "/mappings/khaos-reasons/4/", {"id": 99, "name": "Faulty", "processing_type": "write_off"}
    )
    assert response.status_code == 302
    assert list(KhaosReturnReason.objects.values_list("pk", "name")) == [(4, "Faulty")]


def test_cx_edits_a_customer_row_and_an_add_form_takes_a_fix_links_values(client, role_users, rows):
    login(client, role_users, "cx")
    form = client.get("/mappings/customers/add/?email=bo@example.com&urn=WEB9&town=Leeds")
    filled = {name: form.context["form"][name].value() for name in ("email", "urn", "town")}
    assert filled == {"email": "bo@example.com", "urn": "WEB9", "town": "Leeds"}
    # On an existing row a fix link fills only the empty address fields.
    row = rows["customers"]
    form = client.get(f"/mappings/customers/{row.pk}/?urn=NOPE&line1=1 High St")
    assert form.context["form"].initial["urn"] == "WEB1"
    assert form.context["form"].initial["line1"] == "1 High St"
    response = client.post(
        f"/mappings/customers/{row.pk}/",
        {
            "email": "ann@example.com",
            "urn": "WEB1",
            "line1": "1 High St",
            "town": "Leeds",
            "country": "GB",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.line1, row.town) == ("1 High St", "Leeds")
    assert client.get(f"/mappings/customers/{row.pk}/delete/").status_code == 403


# --- export -----------------------------------------------------------------------------


def test_the_export_is_the_filtered_table_in_the_import_columns(client, role_users, rows):
    _skus(60)
    login(client, role_users, "finance")
    response = client.get("/mappings/skus/export/?format=csv&q=SKU-0001")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    found = list(csv.DictReader(io.StringIO(text)))
    assert [row["platform_sku"] for row in found] == [f"SKU-{n:05d}" for n in range(10, 20)]
    assert set(found[0]) == {"platform", "platform_sku", "stock_code"}

    response = client.get("/mappings/dispositions/export/?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0] == (
        "platform",
        "disposition",
        "stock_action",
        "khaos_return_reason_id",
        "site_id",
    )
    assert values[1][:4] == ("loop", "recycle", "write_off", 4)
    assert str(values[1][4]) == "1"


def test_an_exported_formula_is_written_as_text(client, role_users, rows):
    SkuMapping.objects.create(platform="loop", platform_sku="=1+2", stock_code="HF-F")
    response = login(client, role_users, "data").get("/mappings/skus/export/?format=csv")
    assert "'=1+2" in response.content.decode("utf-8-sig")


def test_export_of_a_bad_format_or_filter_is_400(client, role_users, rows):
    login(client, role_users, "data")
    assert client.get("/mappings/skus/export/?format=pdf").status_code == 400
    assert client.get("/mappings/skus/export/?platform=nowhere").status_code == 400


def test_the_export_costs_the_same_queries_for_any_number_of_rows(client, role_users, rows):
    login(client, role_users, "data")
    client.get("/mappings/reasons/export/?format=csv")
    with CaptureQueriesContext(connection) as one:
        client.get("/mappings/reasons/export/?format=csv")
    _more_rows("reasons", 29)
    with CaptureQueriesContext(connection) as thirty:
        client.get("/mappings/reasons/export/?format=csv")
    assert len(thirty) == len(one)
