"""An exception offers the mapping form that fixes it, pre-filled from the case."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from returns_hub.fixes import fix_link
from returns_hub.models import CustomerMapping, DispositionMapping, KhaosReturnReason
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ret(loop_connection):
    return factories.ReturnFactory(connection=loop_connection, customer_email="zoe@example.net")


def _case(ret, kind, details=None, **links):
    return factories.ExceptionCaseFactory(
        kind=kind, return_ref=ret, connection=ret.connection, details=details or {}, **links
    )


def _split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {name: values[0] for name, values in parse_qs(parts.query).items()}


@pytest.mark.parametrize(
    ("kind", "details", "label", "model", "initial"),
    [
        (
            "unknown_sku",
            {"sku": "HF-NEW-1", "barcode": ""},
            "Add SKU mapping",
            "skumapping",
            {"platform": "loop", "platform_sku": "HF-NEW-1"},
        ),
        (
            "inactive_sku",
            {"sku": "HF-OLD-1", "stock_id": "31"},
            "Add SKU mapping",
            "skumapping",
            {"platform": "loop", "platform_sku": "HF-OLD-1"},
        ),
        (
            "unmapped_reason",
            {"reason": "Too big & baggy"},
            "Add reason mapping",
            "reasonmapping",
            {"platform": "loop", "reason": "Too big & baggy"},
        ),
        (
            "unmapped_disposition",
            {"disposition": "shelf"},
            "Add disposition mapping",
            "dispositionmapping",
            {"platform": "loop", "disposition": "shelf"},
        ),
        # A non-return outcome can only write off, so that is filled in too.
        (
            "unmapped_disposition",
            {"disposition": "keep_item"},
            "Add disposition mapping",
            "dispositionmapping",
            {"platform": "loop", "disposition": "keep_item", "stock_action": "write_off"},
        ),
        (
            "unknown_customer",
            {"email": "ann@example.com"},
            "Add customer mapping",
            "customermapping",
            {"email": "ann@example.com"},
        ),
        # No email in the case: the return's customer.
        (
            "incomplete_address",
            {},
            "Add customer mapping",
            "customermapping",
            {"email": "zoe@example.net"},
        ),
    ],
)
def test_fix_link_names_the_add_form_and_its_values(ret, kind, details, label, model, initial):
    got_label, url = fix_link(_case(ret, kind, details))
    assert got_label == label
    assert _split(url) == (reverse(f"admin:returns_hub_{model}_add"), initial)


def test_a_case_without_a_return_takes_the_platform_from_its_connection():
    connection = factories.PlatformConnectionFactory(platform="swap")
    case = factories.ExceptionCaseFactory(
        kind="unknown_sku", return_ref=None, connection=connection, details={"sku": "SW-1"}
    )
    assert _split(fix_link(case)[1])[1] == {"platform": "swap", "platform_sku": "SW-1"}


def test_a_known_customer_missing_an_address_gets_their_row_to_edit(ret):
    row = CustomerMapping.objects.create(email="zoe@example.net", urn="WEB7")
    assert fix_link(_case(ret, "incomplete_address")) == (
        "Edit customer mapping",
        reverse("admin:returns_hub_customermapping_change", args=[row.pk]),
    )


def test_a_held_non_return_row_gets_the_row_to_correct(ret):
    KhaosReturnReason.objects.create(id=1, name="Return to stock", processing_type="write_off")
    row = DispositionMapping.objects.create(
        platform="loop",
        disposition="donate",
        stock_action="write_off",
        khaos_return_reason_id=1,
        site_id=1,
    )
    # The reason restocks now (changed outside the hub's rules): the row, not a new one.
    KhaosReturnReason.objects.filter(id=1).update(processing_type="return_to_stock")
    assert fix_link(_case(ret, "unmapped_disposition", {"disposition": "donate"})) == (
        "Edit disposition mapping",
        reverse("admin:returns_hub_dispositionmapping_change", args=[row.pk]),
    )


@pytest.mark.parametrize("kind", ["value_mismatch", "missing_source_order", "posting_unconfirmed"])
def test_causes_no_mapping_row_fixes_offer_no_link(ret, kind):
    assert fix_link(_case(ret, kind)) is None


# --- through the admin -----------------------------------------------------------------


def _link_on_change_page(client, case, label: str) -> str:
    page = client.get(reverse("admin:returns_hub_exceptioncase_change", args=[case.pk]))
    assert page.status_code == 200
    found = re.search(rf'<a href="([^"]+)">{re.escape(label)}</a>', page.content.decode())
    assert found, f"no {label!r} link on the change page"
    return html.unescape(found.group(1))


def test_inactive_sku_change_page_links_to_a_prefilled_sku_mapping(client, role_users, ret):
    client.force_login(role_users["admin"])
    case = _case(ret, "inactive_sku", {"sku": "HF-OLD-1", "stock_id": "31"})
    url = _link_on_change_page(client, case, "Add SKU mapping")

    form_page = client.get(url)
    assert form_page.status_code == 200
    form = form_page.context["adminform"].form
    assert (form["platform"].value(), form["platform_sku"].value()) == ("loop", "HF-OLD-1")
    body = form_page.content.decode()
    assert '<option value="loop" selected>' in body
    assert 'value="HF-OLD-1"' in body


@pytest.mark.parametrize(
    ("kind", "details", "label", "expected"),
    [
        (
            "unmapped_reason",
            {"reason": "Too big"},
            "Add reason mapping",
            {"platform": "loop", "reason": "Too big"},
        ),
        (
            "unmapped_disposition",
            {"disposition": "keep_item"},
            "Add disposition mapping",
            {"platform": "loop", "disposition": "keep_item", "stock_action": "write_off"},
        ),
        (
            "unknown_customer",
            {"email": "ann@example.com"},
            "Add customer mapping",
            {"email": "ann@example.com"},
        ),
    ],
)
def test_other_fixable_cases_open_their_prefilled_form(
    client, role_users, ret, kind, details, label, expected
):
    client.force_login(role_users["admin"])
    url = _link_on_change_page(client, _case(ret, kind, details), label)
    form = client.get(url).context["adminform"].form
    assert {name: form[name].value() for name in expected} == expected


def test_the_exception_list_shows_the_fix_column(client, role_users, ret):
    client.force_login(role_users["admin"])
    _case(ret, "unknown_sku", {"sku": "HF-NEW-1"})
    _case(ret, "value_mismatch")
    page = client.get(reverse("admin:returns_hub_exceptioncase_changelist")).content.decode()
    assert page.count(">Add SKU mapping</a>") == 1
