"""The Khaos Control Cloud channel: every endpoint, in JSON and XML, against the fixtures."""

import base64
import re
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from connectors.khaos import formats
from returns_hub import documents
from returns_hub.models import KhaosProduct, KhaosUpload, Posting, StockLevel
from tests import factories
from tests.conftest import fixture_bytes, fixture_json
from tests.engine_events import apply, apply_together, graded, loop_5002_exchange, opened, unit

pytestmark = pytest.mark.django_db

ENDPOINTS = ["config", "returns", "orders", "stock", "stock-status", "order-status"]


def basic(user="khaos", password="khaos-pw"):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def khaos(client, workspace):
    """A client speaking as Khaos to the workspace's channel."""

    class Khaos:
        channel = workspace.channel

        def get(self, endpoint, headers=None, **query):
            extra = {
                **basic(),
                **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
            }
            return client.get(f"/khaos/hf/{endpoint}", query, **extra)

        def post(self, endpoint, body: bytes, fmt="json"):
            kind = "application/xml" if fmt == "xml" else "application/json"
            return client.post(
                f"/khaos/hf/{endpoint}?format={fmt}", body, content_type=kind, **basic()
            )

    return Khaos()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_needs_the_channels_basic_auth(client, workspace, endpoint):
    method = client.get if endpoint in ("config", "returns", "orders") else client.post
    assert method(f"/khaos/hf/{endpoint}").status_code == 401
    assert method(f"/khaos/hf/{endpoint}", **basic(password="wrong")).status_code == 401
    assert method(f"/khaos/hf/{endpoint}", **basic(user="other")).status_code == 401
    assert method(f"/khaos/nope/{endpoint}", **basic()).status_code == 401
    response = method(f"/khaos/hf/{endpoint}", HTTP_AUTHORIZATION="Basic not-base64!")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_config_lists_absolute_urls_in_json_and_xml(khaos):
    config = khaos.get("config").json()["EndpointConfig"]
    assert config["CReturnDownload"] == {
        "URL": "http://testserver/khaos/hf/returns",
        "Format": "JSON",
        "Frequency": 15,
    }
    assert config["OrderDownload"]["URL"] == "http://testserver/khaos/hf/orders"
    assert config["StockUpload"] == {"URL": "http://testserver/khaos/hf/stock", "Format": "JSON"}
    assert config["StockStatusUpload"]["URL"].endswith("/khaos/hf/stock-status")
    assert config["OrderStatusUpload"]["URL"].endswith("/khaos/hf/order-status")

    xml = ElementTree.fromstring(khaos.get("config", format="xml").content)
    assert xml.tag == "EndpointConfig"
    assert xml.findtext("CReturnDownload/Format") == "XML"
    assert xml.findtext("OrderDownload/Frequency") == "15"


def _graded_returns(workspace, count, start=0):
    rb = workspace.connections["rebound"]
    for n in range(start, start + count):
        apply_together(
            rb,
            opened(
                f"9{n:05d}",
                [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
                order=str(n),
                email="catherine.doyle@example.com",
            ),
            graded(f"9{n:05d}", "1", "restocked"),
        )


def _refs(response):
    return [r["AssociatedRef"] for r in documents.loads(response.content)["Returns"]]


def test_returns_are_paged_with_continuation_and_none_is_skipped(khaos, workspace):
    workspace.channel.batch_size = 3
    workspace.channel.save()
    _graded_returns(workspace, 7)

    first = khaos.get("returns", {"Sirion-Continuation": "2019-12-31 12:00:00Z"})
    assert _refs(first) == ["RB-900000", "RB-900001", "RB-900002"]
    body = documents.loads(first.content)
    assert (body["ApiVersion"], body["Config"]["MatchContactOn"]) == (1000, ["Surname"])

    second = khaos.get("returns", {"Sirion-Continuation": first["Sirion-Continuation"]})
    assert _refs(second) == ["RB-900003", "RB-900004", "RB-900005"]
    _graded_returns(workspace, 2, start=7)  # ready while Khaos is paging
    third = khaos.get("returns", {"Sirion-Continuation": second["Sirion-Continuation"]})
    assert _refs(third) == ["RB-900006", "RB-900007", "RB-900008"]
    last = khaos.get("returns", {"Sirion-Continuation": third["Sirion-Continuation"]})
    assert _refs(last) == []
    assert last["Sirion-Continuation"] == third["Sirion-Continuation"]

    # Khaos lost the second answer and asks again: the same documents, byte for byte.
    again = khaos.get("returns", {"Sirion-Continuation": first["Sirion-Continuation"]})
    assert again.content == second.content
    assert set(Posting.objects.values_list("state", flat=True)) == {"downloaded"}
    assert Posting.objects.get(associated_ref="RB-900004").download_count == 2


def test_specific_ids_answer_exactly_the_named_servable_records(khaos, workspace):
    _graded_returns(workspace, 3)
    held = apply_together(
        workspace.connections["rebound"],
        opened("HELD1", [unit("1", "NOPE", "1.00")], order="1"),
        graded("HELD1", "1", "restocked"),
    )
    assert held.postings.get().state == "held"
    response = khaos.get("returns", {"SpecificIDs": '"RB-900002,RB-HELD1,RB-900000,NOPE"'})
    assert _refs(response) == ["RB-900000", "RB-900002"]
    assert set(_refs(khaos.get("returns", {"SpecificIDs": "RB-900001"}))) == {"RB-900001"}
    # Records served by name are not skipped by the next ordinary poll.
    assert set(_refs(khaos.get("returns"))) == {"RB-900000", "RB-900001", "RB-900002"}


def test_returns_download_in_xml_uses_the_documented_names(khaos, workspace):
    _graded_returns(workspace, 1)
    root = ElementTree.fromstring(khaos.get("returns", format="xml").content)
    assert root.tag == "CustomerReturnImport"
    assert root.findtext("ApiVersion") == "1000"
    item = root.find("Returns/CustomerReturn/ReturnedItems/ReturnedItem")
    assert item.findtext("SKU") == "HF-ACC-SCF-LAM-GRY"
    assert item.findtext("Mapping/ItemMapping/Mapping") == "StockCode"
    assert item.find("ReturnReason").attrib == {"ID": "3"}
    assert item.findtext("UnitPrice/Gross") == "35.00"
    # The property table's field name (the examples' SourceReturnReference is a setting).
    assert item.findtext("SourceReference/SourceOrder/AssociatedRef") == "0"
    assert item.find("SourceReturnReference") is None
    ret = root.find("Returns/CustomerReturn")
    assert ret.findtext("ProcessReturn") == "true"
    assert ret.find("InvoiceAddress/Country").attrib == {"Code": "GB"}
    assert root.findall("Config/MatchAddressOn")[1].text == "Postcode"


def test_exchange_orders_download_and_their_status_upload(khaos, workspace):
    from tests.engine_events import exchange

    apply(
        workspace.connections["loop"],
        loop_5002_exchange(),
    )
    apply(
        workspace.connections["swap"],
        opened(
            "40012",
            [unit("1", "HF-DRS-WRP-SAG-10", "74.17", "14.83", outcome="exchange")],
            order="1031",
            email="aisha.khan@example.com",
            exchanges=[exchange("1", "HF-DRS-WRP-SAG-12", "89.00")],
        ),
    )

    orders = documents.loads(khaos.get("orders").content)["Orders"]
    assert [o["Header"]["AssociatedRef"] for o in orders] == ["LOOP-5002-X", "SWAP-40012-X"]
    xml = ElementTree.fromstring(khaos.get("orders", format="xml").content)
    assert xml.tag == "SalesOrderImport"
    assert xml.find("Orders/SalesOrder/Header/Site").attrib == {"ID": "1"}
    assert xml.findtext("Orders/SalesOrder/Items/OrderItem/Mapping") == "StockCode"
    assert xml.find("Orders/SalesOrder/Header/DiscountCodes") is not None

    for name, fmt in (("order_status_upload.json", "json"), ("order_status_upload.xml", "xml")):
        response = khaos.post("order-status", fixture_bytes(f"khaos/{name}"), fmt)
        assert response.status_code == 200, response.content
    loop_order = Posting.objects.get(associated_ref="LOOP-5002-X")
    swap_order = Posting.objects.get(associated_ref="SWAP-40012-X")
    assert (loop_order.state, loop_order.confirmation_ref) == ("confirmed", "SO02131")
    assert (swap_order.state, swap_order.exchange.order_status) == ("confirmed", "Shipping")
    entries = swap_order.return_ref.timeline.filter(kind="khaos_order_status")
    assert entries.count() == 1  # the XML repeat of the same status changed nothing
    assert "INV10877 Shipping (TT482019375GB)" in entries.get().message


def test_stock_upload_json_is_idempotent_and_kept(khaos, workspace):
    KhaosProduct.objects.all().delete()
    for _ in range(2):
        response = khaos.post("stock", fixture_bytes("khaos/stock_upload_previous.json"))
        assert response.status_code == 200
        assert khaos.post("stock", fixture_bytes("khaos/stock_upload.json")).status_code == 200
    assert KhaosProduct.objects.count() == 27
    assert KhaosProduct.objects.get(stock_id="20902").stock_code == "HF-FTW-CHL-BRN-09"
    assert KhaosProduct.objects.get(stock_id="20399").deleted
    assert KhaosUpload.objects.filter(status="stored").count() == 4
    raw = KhaosProduct.objects.get(stock_id="20101").raw
    assert raw["SellPrice"] == {"Gross": "59.0"}  # kept as text, not as a float


def test_stock_upload_in_xml(khaos, workspace):
    KhaosProduct.objects.all().delete()
    body = formats.to_xml("StockItems", fixture_json("khaos/stock_upload.json"))
    response = khaos.post("stock", body, "xml")
    assert response.status_code == 200, response.content
    assert KhaosProduct.objects.count() == 26
    scarf = KhaosProduct.objects.get(stock_code="HF-ACC-SCF-LAM-GRY")
    assert scarf.publish_on_web and not scarf.discontinued
    assert scarf.sell_price_gross == Decimal("35.00")
    assert KhaosProduct.objects.get(stock_id="20403").publish_on_web is False
    assert scarf.barcodes.exists()


def test_stock_status_sets_levels_per_site(khaos, workspace):
    StockLevel.objects.all().delete()
    assert (
        khaos.post("stock-status", fixture_bytes("khaos/stock_status_upload.json")).status_code
        == 200
    )
    assert StockLevel.objects.count() == 32
    level = StockLevel.objects.get(product__stock_code="HF-DNM-SLM-IND-3432", site_id=1)
    assert (level.available, level.on_order) == (Decimal("0"), Decimal("12"))
    wrap = StockLevel.objects.get(product__stock_code="HF-SRV-GIFTWRAP")
    assert wrap.available is None


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("stock", b"{not json", "not valid JSON"),
        ("stock", b'{"Items": [{"StockCode": "X"}]}', "needs a StockID and a StockCode"),
        # (An unknown StockID is no error: tests/khaos/test_vendor_uploads.py.)
        ("stock-status", b'{"Statuses": [{"StockID": "999999"}]}', "needs a StockID and a SiteID"),
        ("stock-status", b'{"Statuses": "x"}', "Statuses must be a list"),
        ("order-status", b'{"Statuses": [{"Status": "Received"}]}', "needs an AssociatedRef"),
    ],
)
def test_bad_uploads_are_400_with_a_clear_message_and_kept(khaos, endpoint, body, message):
    response = khaos.post(endpoint, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    upload = KhaosUpload.objects.get()
    assert (upload.status, bytes(upload.body)) == ("rejected", body)


def test_bad_xml_is_400(khaos):
    response = khaos.post("stock", b"<StockItems><Items>", "xml")
    assert response.status_code == 400
    assert "not valid XML" in response.json()["error"]


def test_a_product_arriving_releases_returns_held_for_it(
    khaos, workspace, django_capture_on_commit_callbacks
):
    ret = apply_together(
        workspace.connections["rebound"],
        opened(
            "NEW1",
            [unit("1", "HF-NEW-HAT-01", "20.00")],
            order="7",
            email="catherine.doyle@example.com",
        ),
        graded("NEW1", "1", "restocked"),
    )
    assert ret.exceptions.get().kind == "unknown_sku"
    upload = {
        "Items": [
            {"StockID": "30001", "StockCode": "HF-NEW-HAT-01", "Options": {"PublishOnWeb": True}}
        ],
        "Deleted": [],
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert khaos.post("stock", documents.dumps(upload).encode()).status_code == 200
    assert ret.postings.get().state == "ready"
    assert not ret.exceptions.filter(status="open").exists()


def test_documents_never_carry_a_null_and_dates_have_no_offset(khaos, workspace):
    _graded_returns(workspace, 2)
    text = khaos.get("returns").content.decode()
    assert "null" not in text
    for value in re.findall(r'"CreatedDate":"([^"]+)"', text):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value)


def test_addresses_are_cut_to_khaos_lengths_never_null():
    from returns_hub.services.khaos_documents import contact, platform_address

    ret = factories.ReturnFactory.build(
        address={
            "line1": "Flat 12, The Old Granary Building, Riverside Quay Road",
            "line2": "",
            "town": "Stoke-on-Trent " * 4,
            "postcode": "ST1 1AA EXTRA",
            "country_code": "gb",
        },
        customer_name="Alexandria " + "Featherstonehaugh-" * 5,
        customer_email="a@example.com",
    )
    doc = platform_address(ret)
    assert len(doc["Line1"]) <= 35 and not doc["Line1"].endswith(" ")
    assert len(doc["Town"]) <= 35
    assert doc["Postcode"] == "ST1 1AA EX"
    assert "Line2" not in doc  # empty: left out, never null
    assert doc["Country"] == {"Code": "GB"}
    assert len(contact(ret.customer_name, ret.customer_email)["Surname"]) <= 50


def test_stock_status_in_xml(khaos, workspace):
    StockLevel.objects.all().delete()
    body = formats.to_xml("StockStatuses", fixture_json("khaos/stock_status_upload.json"))
    assert khaos.post("stock-status", body, "xml").status_code == 200
    assert StockLevel.objects.count() == 32
    level = StockLevel.objects.get(product__stock_code="HF-KNT-MCR-NVY-L", site_id=1)
    assert level.available == Decimal("14")


def test_stock_arriving_places_an_exchange_that_was_unavailable(
    khaos, workspace, django_capture_on_commit_callbacks
):
    from tests.engine_events import exchange

    ret = apply(
        workspace.connections["swap"],
        opened(
            "40013",
            [unit("1", "HF-DNM-SLM-IND-3232", "65.83", "13.17")],
            order="1032",
            email="oliver.bennett@example.com",
            exchanges=[exchange("1", "HF-DNM-SLM-IND-3432", "79.00")],
        ),
    )
    assert ret.exceptions.get().kind == "exchange_unavailable"
    status = {
        "Statuses": [
            {
                "StockCode": "HF-DNM-SLM-IND-3432",
                "StockID": "20303",
                "SiteID": 1,
                "Levels": {"Available": 4, "OnOrder": 8},
            }
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert khaos.post("stock-status", documents.dumps(status).encode()).status_code == 200
    assert ret.postings.get(kind="exchange_order").associated_ref == "SWAP-40013-X"
    assert ret.exceptions.get().status == "resolved"


@pytest.mark.parametrize("token", ["2019-12-31 12:00:00", "2019-12-31T12:00:00Z", "garbage", ""])
def test_first_contact_tokens_in_any_form_start_from_the_beginning(khaos, workspace, token):
    _graded_returns(workspace, 2)
    response = khaos.get("returns", {"Sirion-Continuation": token})
    assert response.status_code == 200
    assert _refs(response) == ["RB-900000", "RB-900001"]
