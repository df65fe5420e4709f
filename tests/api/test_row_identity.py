"""The URL decides which row a PUT or PATCH changes; a body naming another row is refused.

Before: ``PUT /api/v1/khaos/return-reasons/1/`` with ``"id": 2`` overwrote reason 2
(the reason's id is its primary key and writable, as it is the Khaos reason ID).
"""

import pytest
from django.forms.models import model_to_dict

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)

pytestmark = pytest.mark.django_db


def _reasons():
    one = KhaosReturnReason.objects.create(
        id=1, name="Resaleable", processing_type="return_to_stock"
    )
    two = KhaosReturnReason.objects.create(id=2, name="Damaged", processing_type="write_off")
    return one, two


def _two_rows(table: str):
    one, two = _reasons()
    if table == "khaos/return-reasons":
        return (
            one,
            two,
            {"id": 2, "name": "Changed", "processing_type": "write_off"},
        )
    if table == "mappings/skus":
        make = SkuMapping.objects.create
        rows = [
            make(platform="loop", platform_sku=f"SKU-{n}", stock_code=f"HF-{n}") for n in (1, 2)
        ]
        body = {"platform": "loop", "platform_sku": "SKU-X", "stock_code": "HF-X"}
    elif table == "mappings/reasons":
        make = ReasonMapping.objects.create
        rows = [
            make(platform="loop", reason=f"reason {n}", khaos_return_reason=two) for n in (1, 2)
        ]
        body = {"platform": "loop", "reason": "changed", "khaos_return_reason_id": 1}
    elif table == "mappings/dispositions":
        make = DispositionMapping.objects.create
        rows = [
            make(
                platform="loop",
                disposition=f"grade-{n}",
                stock_action="write_off",
                khaos_return_reason=two,
                site_id=1,
            )
            for n in (1, 2)
        ]
        body = {
            "platform": "loop",
            "disposition": "changed",
            "stock_action": "restock",
            "khaos_return_reason_id": 1,
            "site_id": 7,
        }
    else:
        make = CustomerMapping.objects.create
        rows = [make(email=f"c{n}@example.com", urn=f"WEB{n}") for n in (1, 2)]
        body = {"email": "changed@example.com", "urn": "WEB9"}
    return rows[0], rows[1], {"id": rows[1].pk, **body}


TABLES = [
    "khaos/return-reasons",
    "mappings/skus",
    "mappings/reasons",
    "mappings/dispositions",
    "mappings/customers",
]


def _snapshot():
    return {
        model.__name__: sorted(
            (model_to_dict(row) for row in model.objects.all()), key=lambda row: row["id"]
        )
        for model in (
            KhaosReturnReason,
            SkuMapping,
            ReasonMapping,
            DispositionMapping,
            CustomerMapping,
        )
    }


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_body_id_naming_another_row_is_refused_and_changes_nothing(api_client_for, table, method):
    first, second, body = _two_rows(table)
    before = _snapshot()
    response = getattr(api_client_for("admin"), method)(
        f"/api/v1/{table}/{first.pk}/", body, format="json"
    )
    assert response.status_code == 400, response.content
    message = response.json()["id"][0]
    assert f"The URL names row {first.pk}" in message
    # The row the body named is untouched (before: it was overwritten), and so is every other.
    assert model_to_dict(type(second).objects.get(pk=second.pk)) == model_to_dict(second)
    assert _snapshot() == before


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("body_id", ["same-number", "same-string", "absent"])
def test_a_body_repeating_the_urls_id_or_leaving_it_out_updates_that_row(
    api_client_for, table, body_id
):
    first, second, body = _two_rows(table)
    other_before = model_to_dict(type(second).objects.get(pk=second.pk))
    body = {**body}
    if body_id == "absent":
        del body["id"]
    else:
        body["id"] = first.pk if body_id == "same-number" else str(first.pk)
    # A PUT carries the whole row (a Khaos reason's id included); a PATCH may leave it out.
    method = "patch" if body_id == "absent" else "put"
    response = getattr(api_client_for("admin"), method)(
        f"/api/v1/{table}/{first.pk}/", body, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == first.pk
    assert model_to_dict(type(second).objects.get(pk=second.pk)) == other_before
    changed = model_to_dict(type(first).objects.get(pk=first.pk))
    assert changed != model_to_dict(first)


@pytest.mark.parametrize("bad_id", [True, 1.5, [1], {"id": 1}, "1; drop", None])
def test_a_body_id_that_is_not_the_rows_id_in_any_form_is_refused(api_client_for, bad_id):
    _reasons()
    response = api_client_for("admin").patch(
        "/api/v1/khaos/return-reasons/1/", {"id": bad_id, "name": "x"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "id" in response.json()
    assert KhaosReturnReason.objects.get(pk=1).name == "Resaleable"


def test_a_form_encoded_put_is_held_to_the_same_rule(api_client_for):
    _reasons()
    response = api_client_for("admin").put(
        "/api/v1/khaos/return-reasons/1/",
        {"id": "2", "name": "Changed", "processing_type": "write_off"},
        format="multipart",
    )
    assert response.status_code == 400
    assert KhaosReturnReason.objects.get(pk=2).name == "Damaged"
