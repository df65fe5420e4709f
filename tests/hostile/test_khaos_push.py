"""Hostile pushes to the Khaos channel, in JSON and XML: never a 5xx; a 400 names
what is wrong, keeps the push (rejected) and stores nothing of it; a 200 stores
only values the hub can hold."""

import json

import pytest

from connectors.khaos import formats
from returns_hub.models import KhaosProduct, KhaosUpload, StockLevel
from returns_hub.services.products import apply_stock_upload
from tests.conftest import fixture_bytes, fixture_json
from tests.hostile import generate

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "stock": ("StockUpload", "khaos/stock_upload.json"),
    "stock-status": ("StockStatusUpload", "khaos/stock_status_upload.json"),
    "order-status": ("OrderStatuses", "khaos/order_status_upload.json"),
}


def _one(endpoint: str) -> dict:
    """The endpoint's fixture cut to one entry (the richest), as the shape to mangle."""
    doc = fixture_json(ENDPOINTS[endpoint][1])
    if endpoint == "stock":
        return {"Items": doc["Items"][:1], "Deleted": doc["Deleted"]}
    if endpoint == "order-status":
        return {"Statuses": doc["Statuses"][1:2]}  # the one with shipments and packages
    return {"Statuses": doc["Statuses"][:1]}


def _stored():
    return (
        list(KhaosProduct.objects.order_by("pk").values()),
        list(StockLevel.objects.order_by("pk").values()),
    )


def _push(khaos, endpoint: str, body: bytes, fmt: str = "json"):
    """Push and check the answer: 200, or 400 with a message, the push kept whole and
    nothing of it stored. Returns the response."""
    before = _stored()
    response = khaos.push(endpoint, body, fmt)
    assert response.status_code in (200, 400), response.content[:300]
    upload = KhaosUpload.objects.order_by("-pk").first()
    assert bytes(upload.body) == body
    if response.status_code == 400:
        assert response.json()["error"]
        assert upload.status == KhaosUpload.Status.REJECTED
        assert upload.error == response.json()["error"]
        assert _stored() == before, "a refused push stores nothing"
    else:
        assert upload.status == KhaosUpload.Status.STORED
    for product in KhaosProduct.objects.all():
        for value in (product.stock_id, product.stock_code, product.tax_rate_id):
            assert value.isprintable() and "{" not in value and "[" not in value, value
    return response


@pytest.fixture
def product(channel):
    """The product the stock-status fixture's first entry names."""
    apply_stock_upload(_one("stock"))


STRUCTURAL = [
    pytest.param(endpoint, kind, id=f"{endpoint}:{kind}")
    for endpoint in ENDPOINTS
    for kind in generate.structural(fixture_bytes(ENDPOINTS[endpoint][1]))
]


@pytest.mark.parametrize(("endpoint", "kind"), STRUCTURAL)
def test_json_bodies_that_are_no_document(khaos, endpoint, kind):
    body = generate.structural(fixture_bytes(ENDPOINTS[endpoint][1]))[kind]
    response = _push(khaos, endpoint, body)
    assert response.status_code == 400, kind
    message = response.json()["error"]
    if kind.startswith("deep"):
        assert "nest" in message
    if kind.startswith("huge_number"):
        assert "digits" in message


XML = [
    pytest.param(endpoint, kind, id=f"{endpoint}:{kind}")
    for endpoint in ENDPOINTS
    for kind in generate.xml_bodies()
]


@pytest.mark.parametrize(("endpoint", "kind"), XML)
def test_xml_bombs_deep_xml_and_broken_xml(khaos, endpoint, kind):
    response = _push(khaos, endpoint, generate.xml_bodies()[kind], fmt="xml")
    if kind != "text_root":  # a root with only text is a push with nothing in it
        assert response.status_code == 400, kind
    if kind.startswith("deep"):
        assert "nest" in response.json()["error"]
    assert not KhaosProduct.objects.exists()


def _field_cases(endpoint: str, every_kind: bool):
    doc = _one(endpoint)
    for n, path in enumerate(generate.paths(doc)):
        kinds = generate.KINDS if every_kind else [generate.KINDS[n % len(generate.KINDS)]]
        for kind in kinds:
            yield pytest.param(endpoint, path, kind, id=f"{endpoint}:{generate.name(path)}:{kind}")


FIELDS = [
    *_field_cases("stock", every_kind=False),
    *_field_cases("stock-status", every_kind=True),
    *_field_cases("order-status", every_kind=False),
]
# The fields the hub reads, per endpoint: a wrong value there is a 400 naming the field.
READ = {
    "stock": {
        "Items",
        "Deleted",
        "StockID",
        "StockCode",
        "StockDescription",
        "ShortDescription",
        "SellPrice",
        "Gross",
        "TaxRate",
        "ID",
        "Name",
        "Barcodes",
        "Barcode",
        "Options",
        "PublishOnWeb",
        "Discontinued",
        "StockControlled",
        "RunToZero",
    },
    "stock-status": {"Statuses", "StockID", "SiteID", "Levels", "Available", "OnOrder"},
    "order-status": {
        "Statuses",
        "AssociatedRef",
        "Status",
        "OrderCode",
        "Shipments",
        "Packages",
        "ConsignmentRef",
        "Code",
    },
}
# Where a field is inside a part the hub does not read (e.g. a shipment's items).
UNREAD_PARTS = {
    "Items",
    "Courier",
    "BuyPrice",
    "ChannelListingPrice",
    "StockType1",
    "StockType2",
    "SupplierInfo",
    "Images",
    "ListingPrices",
}


@pytest.mark.parametrize(("endpoint", "path", "kind"), FIELDS)
def test_a_hostile_value_in_each_field(khaos, product, endpoint, path, kind):
    valid = _one(endpoint)
    doc = generate.variant(valid, path, kind)
    response = _push(khaos, endpoint, json.dumps(doc).encode())
    keys = [part for part in path if isinstance(part, str)]
    if response.status_code == 400:
        assert keys[-1] in response.json()["error"]
        return
    original = generate.get(valid, path)
    wrong = kind in generate.POISONED_TEXT or type(generate.WRONG_TYPES[kind]) is not type(original)
    read = keys[-1] in READ[endpoint] and not set(keys[1:-1]) & UNREAD_PARTS
    if read and wrong and kind in ("object", "list", "nul", "bell", "surrogate"):
        pytest.fail(f"{generate.name(path)} = {kind} was taken: {response.json()}")


def test_an_object_for_a_stock_id_is_refused_by_name_and_nothing_is_stored(khaos):
    doc = _one("stock")
    good = dict(doc["Items"][0], StockID="99002", StockCode="HF-GOOD")
    doc["Items"] = [good, dict(doc["Items"][0], StockID={"a": 1})]
    response = _push(khaos, "stock", json.dumps(doc).encode())
    assert response.status_code == 400
    assert "Items[1].StockID" in response.json()["error"]
    assert not KhaosProduct.objects.exists()  # not even the good first item


@pytest.mark.parametrize("site_id", [10**20, -1, "1e3", 1.5, True, "", "\uff12", 2**31], ids=repr)
def test_a_site_id_the_column_cannot_hold_is_a_400(khaos, product, site_id):
    doc = _one("stock-status")
    doc["Statuses"][0]["SiteID"] = site_id
    response = _push(khaos, "stock-status", json.dumps(doc).encode())
    assert response.status_code == 400
    assert "SiteID" in response.json()["error"]


XML_FIELDS = [
    ("stock", ("Items", 0, "StockID"), {"a": "1"}),
    ("stock", ("Items", 0, "StockCode"), ["A", "B"]),
    ("stock", ("Items", 0, "StockCode"), "x" * 51),
    ("stock", ("Items", 0, "SellPrice", "Gross"), "1e400"),
    ("stock", ("Items", 0, "Barcodes"), "not a list"),
    ("stock-status", ("Statuses", 0, "SiteID"), str(10**20)),
    ("stock-status", ("Statuses", 0, "Levels", "Available"), "9" * 30),
    ("stock-status", ("Statuses", 0, "StockID"), {"Inner": {"Deeper": "1"}}),
    ("order-status", ("Statuses", 0, "AssociatedRef"), {"a": "1"}),
    ("order-status", ("Statuses", 0, "Shipments"), "text where a list belongs"),
]


@pytest.mark.parametrize(("endpoint", "path", "value"), XML_FIELDS, ids=str)
def test_xml_with_elements_where_text_belongs(khaos, product, endpoint, path, value):
    doc = generate.replaced(_one(endpoint), path, value)
    body = formats.to_xml(ENDPOINTS[endpoint][0], doc)
    response = _push(khaos, endpoint, body, fmt="xml")
    assert response.status_code == 400
    assert path[-1] in response.json()["error"] or path[-2] in response.json()["error"]


def test_a_push_larger_than_a_form_may_be_is_stored_not_refused(khaos, channel):
    """Django refuses form bodies over 2.5 MB; a Khaos push of any size it sends is kept."""
    doc = _one("stock")
    doc["Items"][0]["Padding"] = "p" * 3_000_000  # a field the hub does not read
    response = _push(khaos, "stock", json.dumps(doc).encode())
    assert response.status_code == 200
    assert KhaosProduct.objects.get().stock_id == doc["Items"][0]["StockID"]
