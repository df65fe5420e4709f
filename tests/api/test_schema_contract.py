"""The OpenAPI schema describes what the API answers: nulls, errors, request bodies."""

import inspect
import types
import typing

import pytest
from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework import serializers

from returns_hub.api import serializers as api_serializers

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)


def _model_serializers():
    for _, cls in inspect.getmembers(api_serializers, inspect.isclass):
        if (
            issubclass(cls, serializers.ModelSerializer)
            and cls.__module__ == api_serializers.__name__
        ):
            yield cls


def _can_be_null(serializer, name: str, field) -> bool:
    """Whether the API can answer null for this field: a nullable column (or a nullable
    relation on the way to it), or a method whose return annotation allows None."""
    if isinstance(field, serializers.SerializerMethodField):
        method = getattr(serializer, field.method_name or f"get_{name}")
        returns = typing.get_type_hints(method).get("return")
        return type(None) in typing.get_args(returns) or returns is types.NoneType
    if field.source == "*" or field.default is not serializers.empty:
        return False
    model = serializer.Meta.model
    for part in field.source.split("."):
        column = _column(model, part)
        if column is None or column.one_to_many or column.many_to_many:
            return False  # a property, or a list (never null)
        if column.null:
            return True
        if not column.is_relation:
            return False
        model = column.related_model
    return False


def _column(model, name: str):
    for candidate in (name, name.removesuffix("_id")):
        try:
            return model._meta.get_field(candidate)
        except FieldDoesNotExist:
            continue
    return None


def _nullable_fields():
    for cls in _model_serializers():
        serializer = cls()
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            yield (
                cls.__name__.removesuffix("Serializer"),
                name,
                _can_be_null(serializer, name, field),
            )


def test_the_fields_checked_include_the_ones_that_were_wrong():
    nullable = {(component, name) for component, name, null in _nullable_fields() if null}
    assert {
        ("Exception", "return_id"),
        ("Exception", "unit_id"),
        ("Exception", "assignee"),
        ("Exception", "resolved_by"),
        ("Exception", "fix_url"),
        ("Posting", "channel"),
        ("TimelineEntry", "actor"),
        ("PlatformConnection", "khaos_channel"),
        ("ReturnUnit", "khaos_return_reason"),
    } <= nullable


@pytest.mark.parametrize(("component", "name", "null"), list(_nullable_fields()))
def test_every_field_that_can_be_null_is_declared_nullable(schema, component, name, null):
    declared = schema["components"]["schemas"][component]["properties"][name]
    if null:
        assert declared.get("nullable") is True, f"{component}.{name} can be null"


def test_every_operation_declares_the_errors_it_can_answer(schema):
    missing = []
    for path, method, operation in _operations(schema):
        params = operation.get("parameters", [])
        expected = {"401", "403"}
        if any(p["in"] == "path" for p in params) or any(p["name"] == "cursor" for p in params):
            expected.add("404")
        if "requestBody" in operation or any(p["in"] == "query" for p in params):
            expected.add("400")
        if "requestBody" in operation:
            expected.add("415")
        if method == "delete":
            expected.add("409")
        if path.endswith(("/grade/", "/receive/", "/resolve/", "/ignore/", "/retry/")):
            expected.add("409")
        absent = expected - set(operation["responses"])
        if absent:
            missing.append(f"{method.upper()} {path}: {sorted(absent)}")
    assert not missing, "\n".join(missing)


def test_error_bodies_are_described(schema):
    components = schema["components"]["schemas"]
    for path, method, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if not code.startswith("4"):
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[1]
            assert name in components, (method, path, code)
            body = components[name]
            if code == "409":
                assert body["required"] == ["error"]
            elif code == "400":
                assert body["additionalProperties"]["type"] == "array"
            else:
                assert body["required"] == ["detail"]


def test_request_bodies_say_which_id_a_row_carries(schema):
    components = schema["components"]["schemas"]
    reason = components["KhaosReturnReasonRequest"]
    assert "id" in reason["required"]
    assert reason["properties"]["id"]["maximum"] == 2**31 - 1
    for name in ["SkuMapping", "ReasonMapping", "DispositionMapping", "CustomerMapping"]:
        assert "id" not in components[f"{name}Request"]["properties"]
        assert components[name]["properties"]["id"]["readOnly"] is True
    reason_id = components["ReasonMappingRequest"]["properties"]["khaos_return_reason_id"]
    assert reason_id["type"] == "integer"
    assert reason_id["maximum"] == 2**31 - 1
    grade = schema["paths"]["/api/v1/returns/{id}/units/{unit_id}/grade/"]["post"]
    assert grade["requestBody"]["required"] is True


def test_filters_are_typed_as_the_api_reads_them(schema):
    def parameter(path, name):
        (found,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
        return found["schema"]

    assert parameter("/api/v1/exceptions/", "return_id") == {"type": "integer"}
    assert parameter("/api/v1/returns/", "page_size") == {"type": "integer", "minimum": 1}
    assert "loop" in parameter("/api/v1/returns/", "platform")["enum"]
    assert parameter("/api/v1/khaos/products/", "deleted") == {"type": "boolean"}
