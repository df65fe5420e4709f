"""Non-return outcomes never restock: one rule in the model, refused by every write path.

The paths: the model's clean(), the REST API, the Django admin (add/change form and
CSV import) and django-import-export imports; both directions (a disposition row
pointing at a restocking reason, and a reason turned restocking under such a row).
"""

import pytest
import tablib
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from returns_hub import choices
from returns_hub.models import DispositionMapping, KhaosReturnReason
from returns_hub.resources import DispositionMappingResource, KhaosReturnReasonResource
from returns_hub.services import resolution

pytestmark = pytest.mark.django_db

TO_RESTOCK = (
    "keep_item is a non-return outcome: it cannot map to Khaos reason "
    "1 Changed mind - return to stock, whose processing type restocks."
)
RESTOCK_ACTION = "donate is a non-return outcome: its stock action cannot be restock."
REASON_TURNED = (
    "Khaos reason 7 Not returned - customer kept item cannot be Return to stock: "
    "the non-return outcome(s) loop keep_item map to it"
)
HEADER = "platform,disposition,stock_action,khaos_return_reason_id,site_id\n"


@pytest.fixture
def reasons():
    restock = KhaosReturnReason.objects.create(
        id=1, name="Changed mind - return to stock", processing_type="return_to_stock"
    )
    kept = KhaosReturnReason.objects.create(
        id=7, name="Not returned - customer kept item", processing_type="write_off"
    )
    return restock, kept


@pytest.fixture
def kept_row(reasons):
    return DispositionMapping.objects.create(
        platform="loop",
        disposition="keep_item",
        stock_action="write_off",
        khaos_return_reason=reasons[1],
        site_id=1,
    )


def _row(**values) -> DispositionMapping:
    fields = {
        "platform": "loop",
        "disposition": "keep_item",
        "stock_action": "write_off",
        "khaos_return_reason_id": 7,
        "site_id": 1,
        **values,
    }
    return DispositionMapping(**fields)


def _messages(raised: pytest.ExceptionInfo) -> list[str]:
    return raised.value.messages


# --- the rule itself -----------------------------------------------------------------


def test_resolution_and_the_model_share_one_definition():
    assert resolution.NON_RETURN_OUTCOMES is choices.NON_RETURN_OUTCOMES
    assert {"keep_item", "donate"} == choices.NON_RETURN_OUTCOMES


def test_a_non_return_outcome_cannot_map_to_a_restocking_reason(reasons):
    with pytest.raises(ValidationError) as error:
        _row(khaos_return_reason_id=1).clean()
    assert _messages(error) == [TO_RESTOCK]


def test_a_non_return_outcome_cannot_have_the_restock_action(reasons):
    with pytest.raises(ValidationError) as error:
        _row(disposition="donate", stock_action="restock").clean()
    assert _messages(error) == [RESTOCK_ACTION]


@pytest.mark.parametrize(
    "values",
    [
        {"disposition": "keep_item"},  # write-off reason, write-off action
        {"disposition": "donate", "stock_action": "quarantine"},
        # An ordinary grade may restock: the rule is about non-return outcomes only.
        {"disposition": "back_to_stock", "stock_action": "restock", "khaos_return_reason_id": 1},
    ],
)
def test_rows_that_do_not_restock_a_non_return_outcome_pass(reasons, values):
    _row(**values).clean()


def test_a_reason_cannot_turn_restocking_under_a_non_return_outcome(kept_row):
    reason = kept_row.khaos_return_reason
    reason.processing_type = "return_to_stock"
    with pytest.raises(ValidationError) as error:
        reason.clean()
    assert _messages(error)[0].startswith(REASON_TURNED)
    # A reason no non-return outcome points at may change type freely.
    other = KhaosReturnReason(id=4, name="Faulty", processing_type="return_to_stock")
    other.clean()


# --- REST API --------------------------------------------------------------------------


def test_api_refuses_a_restocking_non_return_row(api_client_for, reasons):
    client = api_client_for("data")
    body = {
        "platform": "loop",
        "disposition": "keep_item",
        "stock_action": "write_off",
        "khaos_return_reason_id": 1,
        "site_id": 1,
    }
    refused = client.post("/api/v1/mappings/dispositions/", body, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"non_field_errors": [TO_RESTOCK]}
    assert not DispositionMapping.objects.exists()

    fine = client.post(
        "/api/v1/mappings/dispositions/", {**body, "khaos_return_reason_id": 7}, format="json"
    )
    assert fine.status_code == 201, fine.content


def test_api_refuses_an_update_that_would_restock(api_client_for, kept_row):
    client = api_client_for("data")
    url = f"/api/v1/mappings/dispositions/{kept_row.pk}/"
    to_restock = client.patch(url, {"khaos_return_reason_id": 1}, format="json")
    assert to_restock.status_code == 400
    assert to_restock.json()["non_field_errors"] == [TO_RESTOCK]
    action = client.patch(url, {"disposition": "donate", "stock_action": "restock"}, format="json")
    assert action.json()["non_field_errors"] == [RESTOCK_ACTION]
    kept_row.refresh_from_db()
    assert (kept_row.disposition, kept_row.stock_action, kept_row.khaos_return_reason_id) == (
        "keep_item",
        "write_off",
        7,
    )


def test_api_refuses_turning_a_reason_restocking_under_a_non_return_row(api_client_for, kept_row):
    client = api_client_for("data")
    refused = client.patch(
        "/api/v1/khaos/return-reasons/7/", {"processing_type": "return_to_stock"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["non_field_errors"][0].startswith(REASON_TURNED)
    assert KhaosReturnReason.objects.get(id=7).processing_type == "write_off"
    renamed = client.patch("/api/v1/khaos/return-reasons/7/", {"name": "Kept"}, format="json")
    assert renamed.status_code == 200, renamed.content


# --- Django admin ----------------------------------------------------------------------


def test_admin_form_refuses_a_restocking_non_return_row(client, role_users, reasons):
    client.force_login(role_users["admin"])
    url = reverse("admin:returns_hub_dispositionmapping_add")
    form = {
        "platform": "loop",
        "disposition": "keep_item",
        "stock_action": "write_off",
        "khaos_return_reason": 1,
        "site_id": 1,
    }
    refused = client.post(url, form)
    assert refused.status_code == 200  # the form again, with the error
    assert TO_RESTOCK in refused.content.decode()
    assert not DispositionMapping.objects.exists()
    assert client.post(url, {**form, "khaos_return_reason": 7}).status_code == 302
    assert DispositionMapping.objects.get().khaos_return_reason_id == 7


def test_admin_form_refuses_turning_a_reason_restocking(client, role_users, kept_row):
    client.force_login(role_users["admin"])
    url = reverse("admin:returns_hub_khaosreturnreason_change", args=[7])
    form = {"id": 7, "name": "Not returned - customer kept item", "processing_type": "write_off"}
    refused = client.post(url, {**form, "processing_type": "return_to_stock"})
    assert refused.status_code == 200
    assert REASON_TURNED in refused.content.decode()
    assert KhaosReturnReason.objects.get(id=7).processing_type == "write_off"


def test_admin_import_shows_the_refused_row_and_imports_nothing(client, role_users, reasons):
    client.force_login(role_users["admin"])
    upload = SimpleUploadedFile(
        "dispositions.csv",
        (HEADER + "loop,recycle,write_off,7,1\nloop,keep_item,write_off,1,1\n").encode(),
    )
    preview = client.post(
        reverse("admin:returns_hub_dispositionmapping_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    page = preview.content.decode()
    assert TO_RESTOCK in page
    assert 'name="import_file_name"' not in page  # no confirm form is offered
    assert not DispositionMapping.objects.exists()


# --- django-import-export --------------------------------------------------------------


def _import(resource, csv: str):
    return resource().import_data(tablib.Dataset().load(csv, format="csv"), dry_run=False)


def test_import_refuses_the_row_and_writes_nothing(reasons):
    result = _import(
        DispositionMappingResource,
        HEADER + "loop,recycle,write_off,7,1\nloop,keep_item,write_off,1,1\n",
    )
    assert [row.number for row in result.invalid_rows] == [2]
    assert result.invalid_rows[0].error.messages == [TO_RESTOCK]
    assert not DispositionMapping.objects.exists()  # the good row 1 was rolled back too


def test_reason_import_refuses_turning_a_reason_restocking(kept_row):
    result = _import(
        KhaosReturnReasonResource,
        "id,name,processing_type\n4,Faulty,write_off\n"
        "7,Not returned - customer kept item,return_to_stock\n",
    )
    assert [row.number for row in result.invalid_rows] == [2]
    assert result.invalid_rows[0].error.messages[0].startswith(REASON_TURNED)
    assert list(KhaosReturnReason.objects.values_list("id", "processing_type")) == [
        (1, "return_to_stock"),
        (7, "write_off"),
    ]


def test_the_fixture_tables_pass_the_rule(workspace):
    # The workspace imports every fixture table with model validation on.
    assert DispositionMapping.objects.filter(platform="loop", disposition="keep_item").exists()
    assert DispositionMapping.objects.count() == 18
