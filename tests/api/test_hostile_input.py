"""Hostile input to the REST API is a clear 4xx naming what is wrong, never a 500."""

import pytest
from rest_framework.test import APIClient

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)
from tests import factories

pytestmark = pytest.mark.django_db

HUGE = 10**20  # beyond every integer column, bigint included


@pytest.fixture
def admin(role_users):
    # A 500 comes back as a response to assert on, not as the server's exception.
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(role_users["admin"])
    return client


@pytest.fixture
def unit(db):
    return factories.ReturnUnitFactory()


def _json(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response.json()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/returns/abc/"),
        ("get", f"/api/v1/returns/{HUGE}/"),
        ("get", f"/api/v1/returns/{'9' * 5000}/"),
        ("post", f"/api/v1/returns/1/units/{'9' * 5000}/grade/"),
        ("get", "/api/v1/khaos/return-reasons/1.5/"),
        ("patch", "/api/v1/mappings/skus/a.b/c/"),
        ("get", "/api/v1/mappings/skus/x%00y/"),
        ("post", "/api/v1/returns/abc/units/x/grade/"),
        ("post", "/api/v1/returns/abc/units/1/grade/"),
        ("post", "/api/v1/returns/1/units/abc/receive/"),
        ("post", f"/api/v1/returns/{HUGE}/units/{HUGE}/grade/"),
        ("post", "/api/v1/returns/abc/approve-value/"),
        ("post", "/api/v1/exceptions/abc/resolve/"),
        ("post", "/api/v1/exceptions/-1/ignore/"),
        ("post", f"/api/v1/exceptions/{HUGE}/retry/"),
        ("put", "/api/v1/khaos/return-reasons/abc/"),
        ("delete", f"/api/v1/khaos/return-reasons/{HUGE}/"),
    ],
)
def test_ids_in_urls_that_are_not_row_ids_are_404(admin, unit, method, url):
    response = getattr(admin, method)(url, {"disposition": "x", "note": "n"}, format="json")
    assert response.status_code == 404, response.content[:300]
    assert "detail" in _json(response)


def test_creating_a_khaos_reason_with_an_existing_id_is_400(admin):
    KhaosReturnReason.objects.create(id=1, name="Resaleable", processing_type="return_to_stock")
    response = admin.post(
        "/api/v1/khaos/return-reasons/",
        {"id": 1, "name": "Other", "processing_type": "write_off"},
        format="json",
    )
    assert response.status_code == 400
    assert _json(response) == {"id": ["A Khaos return reason with this id already exists."]}
    assert KhaosReturnReason.objects.get(pk=1).name == "Resaleable"


def test_a_clash_only_the_database_sees_is_400_and_leaves_nothing_behind(admin, monkeypatch):
    """Two requests racing past validation: the loser's IntegrityError is a 400."""
    KhaosReturnReason.objects.create(id=1, name="Resaleable", processing_type="return_to_stock")
    monkeypatch.setattr("rest_framework.validators.UniqueValidator.__call__", lambda *a: None)
    response = admin.post(
        "/api/v1/khaos/return-reasons/",
        {"id": 1, "name": "Other", "processing_type": "write_off"},
        format="json",
    )
    assert response.status_code == 400
    (message,) = _json(response)["non_field_errors"]
    assert message == "This clashes with a row already stored: Key (id)=(1) already exists."
    # The request's transaction is still usable, and nothing was written.
    assert list(KhaosReturnReason.objects.values_list("name", flat=True)) == ["Resaleable"]


def test_deleting_a_khaos_reason_still_in_use_is_409_naming_what_uses_it(admin, unit):
    reason = KhaosReturnReason.objects.create(id=5, name="Damaged", processing_type="write_off")
    ReasonMapping.objects.create(platform="loop", reason="broken", khaos_return_reason=reason)
    ReasonMapping.objects.create(platform="loop", reason="torn", khaos_return_reason=reason)
    DispositionMapping.objects.create(
        platform="loop",
        disposition="damaged",
        stock_action="write_off",
        khaos_return_reason=reason,
        site_id=1,
    )
    unit.khaos_return_reason = reason
    unit.save(update_fields=["khaos_return_reason"])
    response = admin.delete("/api/v1/khaos/return-reasons/5/")
    assert response.status_code == 409
    assert _json(response) == {
        "error": "Khaos return reason 5 is still in use by 1 disposition mapping, "
        "2 reason mappings, 1 return unit; change or delete those first, then delete it."
    }
    assert KhaosReturnReason.objects.filter(pk=5).exists()
    unused = KhaosReturnReason.objects.create(id=6, name="Unused", processing_type="write_off")
    assert admin.delete(f"/api/v1/khaos/return-reasons/{unused.pk}/").status_code == 204


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("khaos/return-reasons", {"id": HUGE, "name": "x", "processing_type": "write_off"}, "id"),
        ("khaos/return-reasons", {"id": 2**31, "name": "x", "processing_type": "write_off"}, "id"),
        (
            "mappings/dispositions",
            {
                "platform": "loop",
                "disposition": "x",
                "stock_action": "write_off",
                "khaos_return_reason_id": 5,
                "site_id": HUGE,
            },
            "site_id",
        ),
        (
            "mappings/reasons",
            {"platform": "loop", "reason": "x", "khaos_return_reason_id": HUGE},
            "khaos_return_reason_id",
        ),
        (
            "mappings/reasons",
            {"platform": "loop", "reason": "x", "khaos_return_reason_id": 5.5},
            "khaos_return_reason_id",
        ),
    ],
)
def test_integers_beyond_a_columns_range_are_400_naming_the_field(admin, url, body, field):
    KhaosReturnReason.objects.create(id=5, name="Damaged", processing_type="write_off")
    response = admin.post(f"/api/v1/{url}/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in _json(response)


ROWS = {
    "khaos/return-reasons": {"id": 9, "name": "Fine", "processing_type": "write_off"},
    "mappings/skus": {"platform": "loop", "platform_sku": "SKU-1", "stock_code": "HF-1"},
    "mappings/reasons": {"platform": "loop", "reason": "too big", "khaos_return_reason_id": 5},
    "mappings/dispositions": {
        "platform": "loop",
        "disposition": "grade-a",
        "stock_action": "write_off",
        "khaos_return_reason_id": 5,
        "site_id": 1,
    },
    "mappings/customers": {"email": "someone@example.com", "urn": "WEB1"},
}
TEXT_FIELDS = [
    ("khaos/return-reasons", "name"),
    ("mappings/skus", "platform_sku"),
    ("mappings/skus", "stock_code"),
    ("mappings/reasons", "reason"),
    ("mappings/dispositions", "disposition"),
    ("mappings/customers", "email"),
    ("mappings/customers", "urn"),
]
MODELS = [KhaosReturnReason, SkuMapping, ReasonMapping, DispositionMapping, CustomerMapping]


@pytest.mark.parametrize(("table", "field"), TEXT_FIELDS)
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\t", "\n", "\x7f", "\x85"])
def test_control_characters_in_a_mapping_rows_text_are_400_naming_the_field(
    admin, table, field, char
):
    KhaosReturnReason.objects.create(id=5, name="Damaged", processing_type="write_off")
    before = [model.objects.count() for model in MODELS]
    value = f"some{char}one@example.com" if field == "email" else f"A{char}B"
    body = {**ROWS[table], field: value}
    response = admin.post(f"/api/v1/{table}/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in _json(response)
    assert [model.objects.count() for model in MODELS] == before
    # The same row without the character is accepted.
    assert admin.post(f"/api/v1/{table}/", ROWS[table], format="json").status_code == 201


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/returns/{ret}/units/{unit}/grade/", {"disposition": "a\x00b"}, "disposition"),
        (
            "/api/v1/returns/{ret}/units/{unit}/grade/",
            {"disposition": "x", "condition": "\x00"},
            "condition",
        ),
        ("/api/v1/returns/{ret}/approve-value/", {"note": "n\x00"}, "note"),
        ("/api/v1/exceptions/{case}/ignore/", {"note": "\x00"}, "note"),
        ("/api/v1/exceptions/{case}/resolve/", {"note": "\x00"}, "note"),
    ],
)
def test_nul_in_an_actions_text_is_400_naming_the_field(admin, unit, url, body, field):
    case = factories.ExceptionCaseFactory(return_ref=unit.return_ref, owner="data")
    url = url.format(ret=unit.return_ref_id, unit=unit.pk, case=case.pk)
    response = admin.post(url, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in _json(response)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
        (b'{"id": ' + b"9" * 5000 + b"}", "has 5000 digits; at most 30"),
        (
            b'{"id": ' + b"9" * 4000 + b', "name": "x", "processing_type": "write_off"}',
            "4000 digits",
        ),
        (b'{"id": 1e999999, "name": "x"}', "out of range"),
        (b'{"id": NaN}', "NaN is not a JSON number"),
        (b'{"id": 1, "name": "\xff"}', "not valid utf-8"),
    ],
)
def test_unreadable_json_bodies_are_400_with_a_clear_message(admin, raw, message):
    response = admin.post("/api/v1/khaos/return-reasons/", raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert message in _json(response)["detail"]
    assert not KhaosReturnReason.objects.exists()
