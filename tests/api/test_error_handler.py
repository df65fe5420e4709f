"""The API's exception handler: what the database refuses becomes a 4xx with a message."""

import pytest
from django.db import DataError, IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from returns_hub.api.exceptions import exception_handler
from returns_hub.models import KhaosReturnReason, SkuMapping

pytestmark = pytest.mark.django_db


def _refused(make) -> Exception:
    try:
        with transaction.atomic():
            make()
    except (DataError, IntegrityError) as error:
        return error
    raise AssertionError("the database accepted it")


def test_a_number_beyond_its_column_is_400():
    error = _refused(
        lambda: KhaosReturnReason.objects.create(id=2**31, name="x", processing_type="write_off")
    )
    response = exception_handler(error, {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["A number is out of range for its column."]}


def test_a_nul_in_text_is_400_with_the_drivers_reason():
    error = _refused(
        lambda: SkuMapping.objects.create(platform="loop", platform_sku="a\x00b", stock_code="c")
    )
    response = exception_handler(error, {})
    assert response.status_code == 400
    (message,) = response.data["non_field_errors"]
    assert message.startswith("A value cannot be stored (")
    assert "NUL" in message
    assert "INSERT" not in message


def test_a_clash_names_the_key():
    SkuMapping.objects.create(platform="loop", platform_sku="A", stock_code="C")
    error = _refused(
        lambda: SkuMapping.objects.create(platform="loop", platform_sku="A", stock_code="D")
    )
    response = exception_handler(error, {})
    assert response.status_code == 400
    assert response.data == {
        "non_field_errors": [
            "This clashes with a row already stored: "
            "Key (platform, platform_sku)=(loop, A) already exists."
        ]
    }


def test_every_error_body_is_an_object():
    response = exception_handler(ValidationError("Not like that."), {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Not like that."]}


def test_anything_else_is_left_to_be_a_500():
    assert exception_handler(RuntimeError("a bug"), {}) is None
