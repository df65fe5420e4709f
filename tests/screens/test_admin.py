"""Every admin page a superuser can reach renders, with data in it."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(loop_connection):
    ret = factories.ReturnFactory(connection=loop_connection)
    factories.ReturnUnitFactory(return_ref=ret)
    factories.TimelineEntryFactory(return_ref=ret)
    factories.PostingFactory(return_ref=ret)
    factories.ExceptionCaseFactory(return_ref=ret)
    factories.KhaosReturnReasonFactory()
    factories.KhaosProductFactory()
    return ret


@pytest.mark.parametrize(
    "model", list(admin.site._registry), ids=lambda m: f"{m._meta.app_label}.{m._meta.model_name}"
)
def test_changelist_and_first_change_page_render(client, role_users, populated, model):
    client.force_login(role_users["admin"])
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    first = model._default_manager.first()
    if first is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
        assert client.get(change).status_code == 200


def test_connection_admin_never_renders_the_secret(client, role_users):
    connection = factories.PlatformConnectionFactory(webhook_secret="whsec_topsecretvalue1234")
    client.force_login(role_users["admin"])
    page = client.get(reverse("admin:returns_hub_platformconnection_change", args=[connection.pk]))
    assert "whsec_topsecretvalue1234" not in page.content.decode()
    assert "1234" in page.content.decode()


def test_mapping_import_previews_before_it_applies(client, role_users):
    from returns_hub.models import SkuMapping
    from tests.conftest import FIXTURES

    client.force_login(role_users["admin"])
    url = reverse("admin:returns_hub_skumapping_import")
    with open(FIXTURES / "mappings/sku_mappings.csv", "rb") as handle:
        preview = client.post(
            url, {"import_file": handle, "format": "0", "resource": "0"}, follow=True
        )
    assert preview.status_code == 200
    assert "RAINJKT-STONE-M" in preview.content.decode()
    assert not SkuMapping.objects.exists()  # nothing written until confirmed


def test_a_unit_without_a_platform_price_shows_none_given_and_an_estimate(client, role_users):
    product = factories.KhaosProductFactory(sell_price_gross="59.00")
    ret = factories.ReturnFactory()
    factories.ReturnUnitFactory(return_ref=ret, price=0, price_known=False, product=product)
    client.force_login(role_users["admin"])
    page = client.get(reverse("admin:returns_hub_return_change", args=[ret.pk])).content.decode()
    assert "none given" in page
    assert "59.00 (estimate: Khaos SellPrice)" in page
