"""Query strings a list cannot use are 400 naming the parameter (a cursor the hub did not
make is 404 "Invalid cursor"), never a 500 and never a filter silently dropped.

The parameters come from the OpenAPI schema, so every filter of every list is covered
and the schema's declared types are held to what the filters accept.
"""

import base64

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from returns_hub.api.pagination import KeysetPagination
from tests import factories

pytestmark = pytest.mark.django_db

HUGE = str(10**20)


def _list_parameters():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        if "{" in path or "get" not in item:
            continue
        for parameter in item["get"].get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] != "cursor":
                yield path, parameter["name"], parameter["schema"]


LIST_PARAMETERS = list(_list_parameters())


def _kind(schema: dict) -> str:
    schema = schema.get("items", schema)
    if "enum" in schema:
        return "enum"
    if "pattern" in schema:  # a typed text, such as a period YYYY-MM
        return "pattern"
    return schema.get("format", schema.get("type"))


@pytest.fixture
def admin(role_users):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(role_users["admin"])
    return client


def test_the_schema_lists_the_filters_of_every_list():
    names = {(path, name) for path, name, _ in LIST_PARAMETERS}
    assert ("/api/v1/exceptions/", "return_id") in names
    assert ("/api/v1/mappings/dispositions/", "site_id") in names
    assert ("/api/v1/khaos/products/", "deleted") in names
    assert ("/api/v1/returns/", "created_after") in names
    assert len(LIST_PARAMETERS) > 40


@pytest.mark.parametrize(("path", "name", "schema"), LIST_PARAMETERS)
def test_a_nul_in_any_filter_is_400_naming_it(admin, path, name, schema):
    response = admin.get(path, {name: "a\x00b"})
    assert response.status_code == 400, response.content[:300]
    assert name in response.json()


@pytest.mark.parametrize(("path", "name", "schema"), LIST_PARAMETERS)
def test_garbage_in_a_typed_filter_is_400_naming_it(admin, path, name, schema):
    kind = _kind(schema)
    garbage = {
        "integer": ["abc", HUGE, "-" + HUGE, "1.5", "9" * 5000],
        "boolean": ["maybe", "2", HUGE],
        "date-time": ["garbage", "2024-13-45T99:00:00Z", HUGE],
        "enum": ["bogus", HUGE],
        "pattern": ["bogus", HUGE, "9999-99"],
    }.get(kind)
    if garbage is None:  # free text: any value is a value to look for
        assert admin.get(path, {name: "anything " + HUGE}).status_code == 200
        return
    for value in garbage:
        response = admin.get(path, {name: value})
        assert response.status_code == 400, (value[:40], response.content[:300])
        assert name in response.json()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "é",
        "9" * 10_000,
        _b64("p=abc"),
        _b64("p=" + "9" * 5000),
        _b64("p=1%00"),
        _b64("o=" + "9" * 5000),
        _b64("r=" + "9" * 5000),
        _b64("o=-1"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/returns/", "/api/v1/khaos/return-reasons/"])
def test_a_cursor_the_hub_did_not_make_is_404_invalid_cursor(admin, path, cursor):
    factories.ReturnFactory()
    response = admin.get(path, {"cursor": cursor})
    assert response.status_code == 404, response.content[:300]
    assert response.json() == {"detail": "Invalid cursor"}


@pytest.mark.parametrize("size", ["abc", "0", "-1", "1.5", " ", "9" * 5000, "\u0661\u0660"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_400(admin, size):
    response = admin.get("/api/v1/returns/", {"page_size": size})
    assert response.status_code == 400, response.content[:300]
    assert "page_size" in response.json()


def test_a_page_size_above_the_maximum_returns_the_maximum(admin, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "max_page_size", 2)
    factories.ReturnFactory.create_batch(3)
    response = admin.get("/api/v1/returns/", {"page_size": "5000"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert len(admin.get("/api/v1/returns/", {"page_size": "1"}).json()["results"]) == 1
    # Empty is absent, as an empty form field is: the default size (100, so all three).
    assert len(admin.get("/api/v1/returns/", {"page_size": ""}).json()["results"]) == 3
