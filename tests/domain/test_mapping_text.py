"""A mapping key with an invisible character never matches: every write path refuses it."""

import pytest
import tablib
from django.core.exceptions import ValidationError

from returns_hub.models import SkuMapping
from returns_hub.resources import MAPPING_RESOURCES

pytestmark = pytest.mark.django_db


def test_the_model_refuses_control_characters():
    row = SkuMapping(platform="loop", platform_sku="RAINJKT\x07-M", stock_code="HF-OUT-RNC-STN-M")
    with pytest.raises(ValidationError, match="Control characters are not allowed"):
        row.full_clean()


@pytest.mark.parametrize("bad", ["RAINJKT\x00-M", "RAINJKT-M\t", "RAIN\x1bJKT"])
def test_an_import_with_a_control_character_imports_nothing(bad):
    dataset = tablib.Dataset(headers=["platform", "platform_sku", "stock_code"])
    dataset.append(["loop", "GOOD-SKU", "HF-OUT-RNC-STN-L"])
    dataset.append(["loop", bad, "HF-OUT-RNC-STN-M"])
    result = MAPPING_RESOURCES["sku_mappings"]().import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert not SkuMapping.objects.exists()  # nothing half-imported
