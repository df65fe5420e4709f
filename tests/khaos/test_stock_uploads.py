"""StockUpload and StockStatusUpload as Khaos sends them (HTTP POST, Basic auth,
JSON or XML): a push that says nothing new writes nothing and re-evaluates nothing."""

import base64
from decimal import Decimal

import pytest

from connectors.khaos import formats
from returns_hub import documents
from returns_hub.models import KhaosProduct, ProductBarcode, StockCodeHistory, StockLevel
from tests import factories
from tests.conftest import fixture_json, sql_log

pytestmark = pytest.mark.django_db
TABLES = (
    "returns_hub_khaosproduct",
    "returns_hub_productbarcode",
    "returns_hub_stockcodehistory",
    "returns_hub_stocklevel",
)
ROOTS = {"stock": "StockItems", "stock-status": "StockStatuses"}


@pytest.fixture
def khaos(client):
    """POSTs as Khaos does to a channel's upload endpoints."""
    factories.KhaosChannelFactory(slug="hf")
    token = base64.b64encode(b"khaos:khaos-pw").decode()

    def post(endpoint, document, fmt):
        if fmt == "xml":
            body, kind = formats.to_xml(ROOTS[endpoint], document), "application/xml"
        else:
            body, kind = documents.dumps(document).encode(), "application/json"
        url = f"/khaos/hf/{endpoint}?format={fmt}"
        return client.post(url, body, content_type=kind, HTTP_AUTHORIZATION=f"Basic {token}")

    return post


@pytest.fixture
def reevaluations(monkeypatch):
    """Re-evaluations queued (by the model signals) once a change commits."""
    queued = []
    monkeypatch.setattr("returns_hub.signals.async_task", lambda *a, **k: queued.append(a))
    return queued


def master():
    return (
        list(KhaosProduct.objects.order_by("pk").values()),
        list(ProductBarcode.objects.order_by("pk").values()),
        list(StockCodeHistory.objects.order_by("pk").values()),
        list(StockLevel.objects.order_by("pk").values()),
    )


def writes(statements):
    verbs = ("INSERT", "UPDATE", "DELETE")
    changing = [sql for sql in statements if sql.lstrip().upper().startswith(verbs)]
    return [sql for sql in changing if any(table in sql for table in TABLES)]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_identical_stock_upload_changes_nothing(
    khaos, fmt, reevaluations, django_capture_on_commit_callbacks
):
    upload = fixture_json("khaos/stock_upload.json")
    with django_capture_on_commit_callbacks(execute=True):
        for document in (fixture_json("khaos/stock_upload_previous.json"), upload):
            assert khaos("stock", document, fmt).status_code == 200
    assert reevaluations  # a push that changes products does re-evaluate what they held
    reevaluations.clear()
    before = master()

    with django_capture_on_commit_callbacks(execute=True), sql_log() as statements:
        response = khaos("stock", upload, fmt)

    assert response.status_code == 200, response.content
    summary = {"status": "stored", "created": 0, "updated": 0, "renamed": 0, "deleted": 0}
    assert response.json() == summary
    assert writes(statements) == []
    # A few statements for the whole push (auth, the kept upload, one read of the
    # products, one of their barcodes), not a few per item.
    assert len(statements) <= 10, statements
    assert master() == before
    assert reevaluations == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_identical_stock_status_upload_changes_nothing(
    khaos, fmt, reevaluations, django_capture_on_commit_callbacks
):
    status = fixture_json("khaos/stock_status_upload.json")
    with django_capture_on_commit_callbacks(execute=True):
        assert khaos("stock", fixture_json("khaos/stock_upload.json"), fmt).status_code == 200
        assert khaos("stock-status", status, fmt).status_code == 200
    assert StockLevel.objects.count() == 32
    reevaluations.clear()
    before = master()

    with django_capture_on_commit_callbacks(execute=True), sql_log() as statements:
        response = khaos("stock-status", status, fmt)

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "stored", "changed": 0}
    assert writes(statements) == []
    assert len(statements) <= 10, statements
    assert master() == before
    assert reevaluations == []


def _item(**options):
    return {
        "StockID": "40001",
        "StockCode": "HF-RTZ-01",
        "SellPrice": {"Gross": None},
        "Options": {"Discontinued": True, **options},
        "Barcodes": [{"Barcode": "501"}],
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_run_to_zero_keeps_a_discontinued_product_active(khaos, fmt):
    send = {"Items": [_item(RunToZero=True)], "Deleted": []}
    send["Items"][0]["SellPrice"]["Gross"] = Decimal("59.0")
    assert khaos("stock", send, fmt).json()["created"] == 1
    product = KhaosProduct.objects.get(stock_id="40001")
    assert (product.discontinued, product.run_to_zero, product.is_active) == (True, True, True)

    assert khaos("stock", send, fmt).json()["updated"] == 0
    if fmt == "json":
        # The same price written another way is the same price (in XML all is text).
        send["Items"][0]["SellPrice"]["Gross"] = Decimal("59.00")
        assert khaos("stock", send, fmt).json()["updated"] == 0

    send["Items"][0]["Options"]["RunToZero"] = False
    assert khaos("stock", send, fmt).json()["updated"] == 1
    product.refresh_from_db()
    assert (product.run_to_zero, product.is_active) == (False, False)
