"""The product master from Khaos StockUploads, keyed by StockID."""

import pytest

from returns_hub.models import KhaosProduct, StockCodeHistory
from returns_hub.services.products import StockUploadError, apply_stock_upload
from tests.conftest import fixture_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    apply_stock_upload(fixture_json("khaos/stock_upload_previous.json"))
    return apply_stock_upload(fixture_json("khaos/stock_upload.json"))


def test_upload_builds_the_master(loaded):
    assert (loaded.created, loaded.renamed, loaded.deleted) == (25, 1, 1)
    assert KhaosProduct.objects.count() == 27
    dress = KhaosProduct.objects.get(stock_id="20403")
    assert dress.stock_code == "HF-DRS-WRP-SAG-14"
    assert dress.publish_on_web is False
    assert KhaosProduct.objects.get(stock_id="20702").discontinued is True
    wrap = KhaosProduct.objects.get(stock_id="20950")
    assert wrap.stock_controlled is False
    assert not wrap.barcodes.exists()
    kids = KhaosProduct.objects.get(stock_id="20801")
    assert kids.tax_rate_id == "2"


def test_renamed_code_is_followed_through_stock_id(loaded):
    boot = KhaosProduct.objects.get(stock_id="20902")
    assert boot.stock_code == "HF-FTW-CHL-BRN-09"
    old = StockCodeHistory.objects.get(stock_code="HF-CHELSEA-BRN-9")
    assert old.product == boot


def test_deleted_item_is_kept_and_marked(loaded):
    jean = KhaosProduct.objects.get(stock_id="20399")
    assert jean.deleted is True
    assert jean.stock_code == "HF-DNM-SLM-IND-3632"
    assert not jean.is_active


def test_prices_are_exact_decimals(loaded):
    from decimal import Decimal

    assert KhaosProduct.objects.get(stock_id="20101").sell_price_gross == Decimal("59.00")


def test_barcodes_follow_the_upload(loaded):
    beanie = KhaosProduct.objects.get(barcodes__barcode="5061234206021")
    assert beanie.stock_code == "HF-ACC-BNE-RIB-MUS"


@pytest.mark.parametrize(
    "payload",
    [[], {"Items": "x"}, {"Items": [{"StockCode": "A"}]}, {"Items": [{"StockID": "1"}]}],
)
def test_bad_uploads_are_refused_whole(payload):
    with pytest.raises(StockUploadError):
        apply_stock_upload(payload)
    assert not KhaosProduct.objects.exists()
