"""Run-to-zero: a discontinued item still selling its stock is a live Stock Code."""

import pytest
from django.urls import reverse

from returns_hub.models import KhaosProduct
from returns_hub.services.resolution import Problem, resolve_product
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("deleted", "discontinued", "run_to_zero", "active"),
    [
        (False, False, False, True),  # an ordinary live item
        (False, True, False, False),  # discontinued: inactive_sku
        (False, True, True, True),  # discontinued but running to zero: still live
        (True, True, True, False),  # deleted in Khaos: run-to-zero cannot save it
    ],
    ids=["live", "discontinued", "run-to-zero", "deleted"],
)
def test_is_active(deleted, discontinued, run_to_zero, active):
    product = KhaosProduct(deleted=deleted, discontinued=discontinued, run_to_zero=run_to_zero)
    assert product.is_active is active


def test_a_run_to_zero_item_resolves_and_a_discontinued_one_does_not():
    running = factories.KhaosProductFactory(discontinued=True, run_to_zero=True)
    stopped = factories.KhaosProductFactory(discontinued=True)
    assert resolve_product("loop", running.stock_code, "", what="SKU") == running
    problem = resolve_product("loop", stopped.stock_code, "", what="SKU")
    assert isinstance(problem, Problem) and problem.kind == "inactive_sku"


def test_the_product_admin_lists_and_filters_run_to_zero(client, role_users):
    factories.KhaosProductFactory(stock_code="HF-RTZ-1", discontinued=True, run_to_zero=True)
    factories.KhaosProductFactory(stock_code="HF-LIVE-1")
    client.force_login(role_users["admin"])
    url = reverse("admin:returns_hub_khaosproduct_changelist")
    page = client.get(url).content.decode()
    assert "column-run_to_zero" in page
    filtered = client.get(url, {"run_to_zero__exact": "1"}).content.decode()
    assert "HF-RTZ-1" in filtered and "HF-LIVE-1" not in filtered
