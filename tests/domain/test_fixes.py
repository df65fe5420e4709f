"""An exception offers the screen's form that fixes it, pre-filled from the case: a
mapping screen's add or edit form, or the CX page of the return for the customer's row."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from returns_hub.choices import ExceptionKind
from returns_hub.fixes import fix_link, fix_links
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    KhaosReturnReason,
)
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
    ("kind", "details", "label", "table", "initial"),
    [
        (
            "unknown_sku",
            {"sku": "HF-NEW-1", "barcode": ""},
            "Add SKU mapping",
            "skus",
            {"platform": "loop", "platform_sku": "HF-NEW-1"},
        ),
        (
            "inactive_sku",
            {"sku": "HF-OLD-1", "stock_id": "31"},
            "Add SKU mapping",
            "skus",
            {"platform": "loop", "platform_sku": "HF-OLD-1"},
        ),
        (
            "unmapped_reason",
            {"reason": "Too big & baggy"},
            "Add reason mapping",
            "reasons",
            {"platform": "loop", "reason": "Too big & baggy"},
        ),
        (
            "unmapped_disposition",
            {"disposition": "shelf"},
            "Add disposition mapping",
            "dispositions",
            {"platform": "loop", "disposition": "shelf"},
        ),
        # A non-return outcome can only write off, so that is filled in too.
        (
            "unmapped_disposition",
            {"disposition": "keep_item"},
            "Add disposition mapping",
            "dispositions",
            {"platform": "loop", "disposition": "keep_item", "stock_action": "write_off"},
        ),
        (
            "unknown_customer",
            {"email": "ann@example.com"},
            "Add customer mapping",
            "customers",
            {"email": "ann@example.com"},
        ),
        # Another email than the return's: that customer's row, on the mapping screen.
        (
            "incomplete_address",
            {"email": "Ann@Example.com", "urn": "WEB9"},
            "Add customer mapping",
            "customers",
            {"email": "ann@example.com", "urn": "WEB9"},
        ),
    ],
)
def test_fix_link_names_the_add_form_and_its_values(ret, kind, details, label, table, initial):
    got_label, url = fix_link(_case(ret, kind, details))
    assert got_label == label
    assert _split(url) == (reverse("mappings:add", args=[table]), initial)


@pytest.mark.parametrize("kind", ["unknown_customer", "incomplete_address"])
@pytest.mark.parametrize("details", [{}, {"email": "Zoe@Example.net"}])
def test_the_returns_own_customer_is_fixed_on_its_cx_page(ret, kind, details):
    assert fix_link(_case(ret, kind, details)) == (
        "Add customer mapping",
        reverse("cx:return", args=[ret.pk]) + "#customer-row",
    )


def test_a_case_without_a_return_takes_the_platform_from_its_connection():
    connection = factories.PlatformConnectionFactory(platform="swap")
    case = factories.ExceptionCaseFactory(
        kind="unknown_sku", return_ref=None, connection=connection, details={"sku": "SW-1"}
    )
    assert _split(fix_link(case)[1])[1] == {"platform": "swap", "platform_sku": "SW-1"}


def test_a_known_customer_missing_an_address_gets_their_row_to_edit(ret):
    CustomerMapping.objects.create(email="zoe@example.net", urn="WEB7")
    assert fix_link(_case(ret, "incomplete_address")) == (
        "Edit customer mapping",
        reverse("cx:return", args=[ret.pk]) + "#customer-row",
    )


def test_another_customers_row_is_edited_on_the_mapping_screen(ret):
    ret.customer_name, ret.address = "Ann Example", {"town": "Bath"}
    ret.save()
    row = CustomerMapping.objects.create(email="ann@example.com", urn="WEB7")
    case = _case(ret, "incomplete_address", {"email": "ann@example.com"})
    assert fix_link(case) == (
        "Edit customer mapping",
        reverse("mappings:edit", args=["customers", row.pk]) + "?name=Ann+Example&town=Bath",
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
        reverse("mappings:edit", args=["dispositions", row.pk]),
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
    form = form_page.context["form"]  # the mapping screen's form, not the admin's
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
    form = client.get(url).context["form"]
    assert {name: form[name].value() for name in expected} == expected


def test_the_exception_list_shows_the_fix_column(client, role_users, ret):
    client.force_login(role_users["admin"])
    _case(ret, "unknown_sku", {"sku": "HF-NEW-1"})
    _case(ret, "value_mismatch")
    page = client.get(reverse("admin:returns_hub_exceptioncase_changelist")).content.decode()
    assert page.count(">Add SKU mapping</a>") == 1


# --- followed by the team that fixes it --------------------------------------------------


def _followed(client, user, case) -> dict[str, str]:
    """The form the case's fix link opens for ``user``: its fields' values."""
    client.force_login(user)
    page = client.get(fix_link(case)[1])
    assert page.status_code == 200
    form = page.context["form"]
    return {name: form[name].value() for name in form.fields if form[name].value()}


@pytest.mark.parametrize(
    ("kind", "details", "filled"),
    [
        ("unknown_sku", {"sku": "HF-NEW-1"}, {"platform": "loop", "platform_sku": "HF-NEW-1"}),
        ("inactive_sku", {"sku": "HF-OLD-1"}, {"platform": "loop", "platform_sku": "HF-OLD-1"}),
        ("unmapped_reason", {"reason": "Too big"}, {"platform": "loop", "reason": "Too big"}),
        (
            "unmapped_disposition",
            {"disposition": "shelf"},
            {"platform": "loop", "disposition": "shelf"},
        ),
        (
            "unmapped_disposition",
            {"disposition": "keep_item"},
            {"platform": "loop", "disposition": "keep_item", "stock_action": "write_off"},
        ),
    ],
)
def test_data_follows_a_mapping_fix_to_its_prefilled_add_form(
    client, role_users, ret, kind, details, filled
):
    assert _followed(client, role_users["data"], _case(ret, kind, details)) == filled


def test_data_follows_a_held_outcomes_fix_to_the_row_to_correct(client, role_users, ret):
    reason = KhaosReturnReason.objects.create(id=1, name="Donated", processing_type="write_off")
    row = DispositionMapping.objects.create(
        platform="loop",
        disposition="donate",
        stock_action="write_off",
        khaos_return_reason=reason,
        site_id=3,
    )
    KhaosReturnReason.objects.filter(id=1).update(processing_type="return_to_stock")
    client.force_login(role_users["data"])
    page = client.get(fix_link(_case(ret, "unmapped_disposition", {"disposition": "donate"}))[1])
    assert page.status_code == 200
    assert page.context["form"].instance == row


@pytest.fixture
def ann_return(loop_connection):
    return factories.ReturnFactory(
        connection=loop_connection,
        customer_email="ann@example.com",
        customer_name="Ann Example",
        address={"line1": "1 High St", "town": "Bath", "country_code": "GB"},
    )


def test_cx_follows_an_unknown_customers_fix_to_the_returns_row_form(
    client, role_users, ann_return
):
    case = _case(ann_return, "unknown_customer", {"email": "ann@example.com", "urn": "WEB9"})
    assert _followed(client, role_users["cx"], case) == {
        "urn": "WEB9",
        "name": "Ann Example",
        "line1": "1 High St",
        "town": "Bath",
        "country": "GB",
    }


def test_cx_follows_an_incomplete_address_fix_to_the_known_row_completed(
    client, role_users, ann_return
):
    CustomerMapping.objects.create(email="ann@example.com", urn="WEB7", town="Wells")
    case = _case(ann_return, "incomplete_address")
    # The row's own values stay; its empty fields take what the platform sent.
    assert _followed(client, role_users["cx"], case) == {
        "urn": "WEB7",
        "name": "Ann Example",
        "line1": "1 High St",
        "town": "Wells",
        "country": "GB",
    }


def test_cx_follows_another_customers_fix_to_the_mapping_screen(client, role_users, ret):
    case = _case(ret, "unknown_customer", {"email": "ann@example.com", "urn": "WEB9"})
    assert _followed(client, role_users["cx"], case) == {"email": "ann@example.com", "urn": "WEB9"}
    row = CustomerMapping.objects.create(email="bo@example.com", urn="WEB8")
    ret.customer_name = "Bo Example"
    ret.save()
    case = _case(ret, "incomplete_address", {"email": "bo@example.com"})
    assert _followed(client, role_users["cx"], case) == {
        "email": "bo@example.com",
        "urn": "WEB8",
        "name": "Bo Example",
    }
    assert fix_link(case)[1].startswith(reverse("mappings:edit", args=["customers", row.pk]))


# --- a fixed number of queries ----------------------------------------------------------

VARIANTS = [  # the first reads every row a kind can read
    {"email": "known@example.com", "disposition": "keep_item"},
    {"email": "new@example.com", "urn": "WEB9"},
    {"disposition": "keep_item"},
    {"disposition": "donate"},
    {"disposition": "damaged", "sku": "X-1", "reason": "too_big"},
    {},
]


def _loaded_cases(kind: str, n: int) -> list[ExceptionCase]:
    made = []
    for i in range(n):
        ret = factories.ReturnFactory(customer_email=f"c{i % 3}@example.com")
        details = VARIANTS[i % len(VARIANTS)]
        made.append(
            factories.ExceptionCaseFactory(
                kind=kind, return_ref=ret, connection=ret.connection, details=details
            ).pk
        )
    return list(
        ExceptionCase.objects.select_related("return_ref__connection", "connection").filter(
            pk__in=made
        )
    )


@pytest.mark.parametrize("kind", ExceptionKind.values)
def test_fix_links_costs_the_same_queries_for_1_and_30_cases(kind, django_assert_num_queries):
    CustomerMapping.objects.create(email="known@example.com", urn="WEB1")
    reason = KhaosReturnReason.objects.create(id=7, name="Kept", processing_type="write_off")
    DispositionMapping.objects.create(
        platform="loop",
        disposition="keep_item",
        stock_action="write_off",
        khaos_return_reason=reason,
        site_id=1,
    )
    one, thirty = _loaded_cases(kind, 1), _loaded_cases(kind, 30)
    lookups = {"incomplete_address": 1, "unmapped_disposition": 1}.get(kind, 0)
    with django_assert_num_queries(lookups):
        links = fix_links(one)
    with django_assert_num_queries(lookups):
        many = fix_links(thirty)
    assert set(many) == {case.pk for case in thirty} and len(links) == 1
    assert all(fix_link(case) == many[case.pk] for case in thirty)
