"""The product API shows run-to-zero, so a discontinued but live Stock Code is explained."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_product_api_shows_run_to_zero(api_client_for):
    factories.KhaosProductFactory(stock_code="HF-RTZ-1", discontinued=True, run_to_zero=True)
    row = api_client_for("data").get("/api/v1/khaos/products/").json()["results"][0]
    assert (row["stock_code"], row["discontinued"], row["run_to_zero"]) == ("HF-RTZ-1", True, True)
