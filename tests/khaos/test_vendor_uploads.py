"""Khaos's uploads as the vendor documents them: its own example files (kept unchanged
in tests/fixtures/realworld/khaos/), pushed as Khaos pushes them, and the shapes its
document leaves open (docs/contracts: "What KC really sends")."""

import copy
import hashlib
import json
import logging
import re
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape

import httpx
import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.khaos import views
from returns_hub.models import KhaosProduct, KhaosUpload, Posting, ProductBarcode, StockLevel
from tests import factories
from tests.conftest import FIXTURES, khaos_basic, sql_log
from tests.engine_events import apply
from tests.khaos.conftest import loop_exchange, swap_exchange

VENDOR = FIXTURES / "realworld" / "khaos"
CREDENTIALS = ("khaos", "khaos-pw")
KINDS = {"json": "application/json", "xml": "application/xml"}
MiB = 1024 * 1024


def vendor(name: str) -> bytes:
    return (VENDOR / name).read_bytes()


def vendor_item() -> dict:
    """The StockItem of the vendor's JSON StockUpload example."""
    return json.loads(vendor("readme_stock_upload.json"))["Items"][0]


def item(stock_id: str, code: str, **changes) -> dict:
    return {**vendor_item(), "StockID": stock_id, "StockCode": code, **changes}


def upload_urls(base: str, fmt: str) -> dict[str, str]:
    """The upload URLs the channel's configuration file gives Khaos for ``fmt``."""
    config = httpx.get(f"{base}/khaos/hf/config?format=json", auth=CREDENTIALS, timeout=10)
    assert config.status_code == 200, config.text
    endpoints = config.json()["EndpointConfig"]
    names = ("StockUpload", "StockStatusUpload", "OrderStatusUpload")
    return {name: endpoints[name]["URL"].replace("format=json", f"format={fmt}") for name in names}


def push(base: str, fmt: str, name: str, body: bytes) -> httpx.Response:
    """POST as Khaos does: Basic auth with the channel's credentials, to the configured URL."""
    url = upload_urls(base, fmt)[name]
    headers = {"Content-Type": KINDS[fmt]}
    return httpx.post(url, content=body, auth=CREDENTIALS, headers=headers, timeout=300)


def master() -> tuple:
    """Everything an upload may change, to show that a replay changes none of it."""
    return (
        list(KhaosProduct.objects.order_by("pk").values()),
        list(ProductBarcode.objects.order_by("pk").values()),
        list(StockLevel.objects.order_by("pk").values()),
        list(Posting.objects.order_by("pk").values()),
    )


def last_upload() -> KhaosUpload:
    return KhaosUpload.objects.order_by("-pk").first()


@pytest.fixture
def channel(db):
    return factories.KhaosChannelFactory(slug="hf", site_id=1, default_urn="")


@pytest.fixture
def khaos(client, channel):
    """Pushes through the Django test client (the same view, without a server)."""

    def post(endpoint: str, body: bytes, fmt: str = "json"):
        return client.post(
            f"/khaos/hf/{endpoint}?format={fmt}",
            body,
            content_type=KINDS[fmt],
            **khaos_basic(*CREDENTIALS),
        )

    return post


# --- the vendor's examples, through a live server -------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_vendors_stock_upload_makes_the_product_and_a_replay_changes_nothing(
    live_server, channel, fmt
):
    body = vendor(f"readme_stock_upload.{fmt}")
    response = push(live_server.url, fmt, "StockUpload", body)

    assert response.status_code == 200, response.text
    counts = {"created": 1, "updated": 0, "renamed": 0, "deleted": 0}
    assert response.json() == {"status": "stored", **counts}
    product = KhaosProduct.objects.get(stock_id="6027")
    assert product.stock_code == "DRC1.JUSTINWBK115"
    assert product.description == "Dr Comfort Justin Shoes Wide / Black / 11.01UK"
    # The XML example says True/False, the JSON one true/false: the same product.
    flags = (
        product.publish_on_web,
        product.discontinued,
        product.run_to_zero,
        product.stock_controlled,
        product.deleted,
    )
    assert flags == (True, False, False, True, False)
    assert (product.tax_rate_id, product.tax_rate_name) == ("1", "Standard")
    assert product.sell_price_gross == Decimal("0.00")
    assert not product.barcodes.exists()
    upload = last_upload()
    assert (upload.endpoint, upload.format, upload.status) == ("stock", fmt.upper(), "stored")
    assert bytes(upload.body) == body  # kept byte for byte
    assert (upload.summary, upload.error, upload.channel) == (counts, "", channel)
    assert abs(timezone.now() - upload.received_at) < timedelta(minutes=1)

    before = master()
    again = push(live_server.url, fmt, "StockUpload", body)
    assert again.status_code == 200, again.text
    assert again.json() == {
        "status": "stored",
        "created": 0,
        "updated": 0,
        "renamed": 0,
        "deleted": 0,
    }
    assert master() == before
    assert KhaosUpload.objects.filter(status="stored").count() == 2


def _known(*stock_ids: str) -> None:
    for stock_id in stock_ids:
        KhaosProduct.objects.create(stock_id=stock_id, stock_code=f"CODE-{stock_id}")


STOCK_STATUS_EXAMPLES = {
    # The JSON example: BOO (112) and MUG1 (505) at site 1.
    "json": (["505"], {("505", 1): (Decimal("110"), Decimal("0"))}, ["112"]),
    # The XML example: 39681 at site 16, 39680 at five sites, 39679 at four.
    "xml": (
        ["39680", "39679"],
        {
            **{("39680", site): (Decimal("0"), Decimal("0")) for site in (1, 5, 13, 8, 16)},
            **{("39679", site): (Decimal("0"), Decimal("0")) for site in (1, 5, 13, 8)},
        },
        ["39681"],
    ),
}


def _levels() -> dict:
    rows = StockLevel.objects.values_list("product__stock_id", "site_id", "available", "on_order")
    return {(stock_id, site): (available, on_order) for stock_id, site, available, on_order in rows}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_vendors_stock_status_stores_the_known_and_records_the_unknown(
    live_server, channel, fmt, caplog
):
    known, levels, unknown = STOCK_STATUS_EXAMPLES[fmt]
    _known(*known)
    body = vendor(f"readme_stock_status_upload.{fmt}")

    with caplog.at_level(logging.WARNING, logger="returns_hub.services.products"):
        response = push(live_server.url, fmt, "StockStatusUpload", body)

    # The vendor's own example names StockIDs the hub has never seen: still a 200.
    assert response.status_code == 200, response.text
    summary = {"changed": len(levels), "unknown": unknown}
    assert response.json() == {"status": "stored", **summary}
    assert _levels() == levels
    upload = last_upload()
    assert (upload.endpoint, upload.status, upload.summary) == ("stock-status", "stored", summary)
    assert bytes(upload.body) == body
    (logged,) = [r for r in caplog.records if "not in the product master" in r.getMessage()]
    assert (logged.levelname, logged.stock_ids, logged.count) == ("WARNING", unknown, 1)

    before = master()
    again = push(live_server.url, fmt, "StockStatusUpload", body)
    assert again.json() == {"status": "stored", "changed": 0, "unknown": unknown}
    assert master() == before

    # Once the product master has it, the same push (as Khaos resends) stores it too.
    _known(*unknown)
    third = push(live_server.url, fmt, "StockStatusUpload", body)
    assert third.json() == {"status": "stored", "changed": 1}  # the one unknown status
    assert {stock_id for stock_id, _ in _levels()} == {*known, *unknown}


def _exchange_order(workspace, ref: str) -> Posting:
    """An exchange order the hub put on OrderDownload, known to Khaos as ``ref``."""
    apply(workspace.connections["swap"], swap_exchange())
    order = Posting.objects.get(kind="exchange_order")
    Posting.objects.filter(pk=order.pk).update(associated_ref=ref)
    return order


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_vendors_order_status_applies_to_the_order_the_hub_knows(live_server, workspace, fmt):
    order = _exchange_order(workspace, "web_order_1516288492")
    download = httpx.get(f"{live_server.url}/khaos/hf/orders", auth=CREDENTIALS, timeout=30)
    assert download.status_code == 200  # Khaos has downloaded the order
    body = vendor(f"readme_order_status_upload.{fmt}")

    response = push(live_server.url, fmt, "OrderStatusUpload", body)

    assert response.status_code == 200, response.text
    summary = {"applied": 1, "unknown": ["web_order_1516288490"]}
    assert response.json() == {"status": "stored", **summary}
    order.refresh_from_db()
    assert (order.state, order.confirmation_ref) == ("confirmed", "SO02075")
    assert order.exchange.order_status == "Received"
    (entry,) = order.return_ref.timeline.filter(kind="khaos_order_status")
    assert "SO02075 for web_order_1516288492 is Received: INV106 Staging" in entry.message
    upload = last_upload()
    assert (upload.endpoint, upload.summary, bytes(upload.body)) == ("order-status", summary, body)

    before = master()
    again = push(live_server.url, fmt, "OrderStatusUpload", body)
    assert again.json() == {"status": "stored", "applied": 0, "unknown": summary["unknown"]}
    assert master() == before
    assert order.return_ref.timeline.filter(kind="khaos_order_status").count() == 1


# --- the shapes the vendor's document leaves open --------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_order_status_is_read_from_status_or_order_status(workspace, khaos, fmt):
    """The examples say ``Status``, the property table ``OrderStatus``: both are read."""
    swap = _exchange_order(workspace, "web_order_1516288492")
    apply(workspace.connections["loop"], loop_exchange())
    loop = Posting.objects.get(kind="exchange_order", associated_ref="LOOP-5002-X")
    Posting.objects.filter(pk=loop.pk).update(associated_ref="web_order_1516288490")
    if fmt == "json":
        document = json.loads(vendor("readme_order_status_upload.json"))
        second = document["Statuses"][1]
        second["OrderStatus"] = "Shipping"
        del second["Status"]
        body = json.dumps(document).encode()
    else:
        text = vendor("readme_order_status_upload.xml").decode()
        first, rest = text.split("</SalesOrderStatus>", 1)
        rest = rest.replace("<Status>Received</Status>", "<OrderStatus>Shipping</OrderStatus>", 1)
        body = f"{first}</SalesOrderStatus>{rest}".encode()
        assert body.count(b"<OrderStatus>Shipping</OrderStatus>") == 1

    response = khaos("order-status", body, fmt)

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "stored", "applied": 2, "unknown": []}
    swap.refresh_from_db()
    loop.refresh_from_db()
    assert (swap.confirmation_ref, swap.exchange.order_status) == ("SO02075", "Received")
    assert (loop.confirmation_ref, loop.exchange.order_status) == ("SO02076", "Shipping")


def _stock_body(fmt: str, items: list[dict], deleted_xml: str = "", deleted=None) -> bytes:
    """A StockUpload in the vendor's shape: its JSON example, or its XML example with the
    StockItem repeated per item and ``deleted_xml`` inside ``<Deleted>``."""
    if fmt == "json":
        return json.dumps({"Deleted": deleted or [], "Items": items}).encode()
    text = vendor("readme_stock_upload.xml").decode()
    stock_item = re.search(r"<StockItem>.*</StockItem>", text, re.S).group()
    repeated = "".join(
        stock_item.replace("<StockID>6027</StockID>", f"<StockID>{i['StockID']}</StockID>")
        .replace("DRC1.JUSTINWBK115", i["StockCode"])
        .replace(
            "</ShortDescription>",
            f"</ShortDescription><LongDescription>{escape(i['LongDescription'])}</LongDescription>"
            if "LongDescription" in i
            else "</ShortDescription>",
        )
        for i in items
    )
    text = text.replace(stock_item, repeated)
    return text.replace("<Deleted/>", f"<Deleted>{deleted_xml}</Deleted>").encode()


DELETED_SHAPES = [
    pytest.param("json", ["7001", "7002"], "", id="json-plain-ids"),
    pytest.param("json", [7001, "7002"], "", id="json-plain-ids-as-numbers"),
    pytest.param("json", [{"StockID": "7001"}, {"StockID": "7002"}], "", id="json-objects"),
    pytest.param(
        "xml",
        None,
        "<DeletedItem><StockID>7001</StockID></DeletedItem>"
        "<DeletedItem><StockID>7002</StockID></DeletedItem>",
        id="xml-deleted-items",
    ),
    pytest.param("xml", None, "<StockID>7001</StockID><StockID>7002</StockID>", id="xml-plain-ids"),
    pytest.param("xml", None, "<string>7001</string><string>7002</string>", id="xml-strings"),
    pytest.param(
        "xml", None, '<DeletedItem StockID="7001"/><DeletedItem StockID="7002"/>', id="xml-attrs"
    ),
]


@pytest.mark.parametrize(("fmt", "deleted", "deleted_xml"), DELETED_SHAPES)
def test_deleted_is_read_as_plain_ids_or_stock_id_objects(khaos, fmt, deleted, deleted_xml):
    items = [item(stock_id, f"DEL-{stock_id}") for stock_id in ("7001", "7002", "7003")]
    assert khaos("stock", _stock_body(fmt, items), fmt).json()["created"] == 3

    body = _stock_body(fmt, [], deleted_xml, deleted)
    response = khaos("stock", body, fmt)

    assert response.status_code == 200, response.content
    assert response.json()["deleted"] == 2
    gone = KhaosProduct.objects.filter(deleted=True).values_list("stock_id", flat=True)
    assert sorted(gone) == ["7001", "7002"]
    assert not KhaosProduct.objects.get(stock_id="7003").deleted
    before = master()
    assert khaos("stock", body, fmt).json()["deleted"] == 0  # a replay deletes nothing new
    assert master() == before


def _cased(word: str, upper: list[bool]) -> str:
    return "".join(c.upper() if up else c.lower() for c, up in zip(word, upper, strict=False))


SPELLINGS = {True: ["true", "1", "yes"], False: ["false", "0", "no"]}
OPTIONS = ("PublishOnWeb", "Discontinued", "RunToZero", "StockControlled")


@st.composite
def spelled_flags(draw):
    """Each option a boolean, spelled as Khaos might: any case, padded, or a number."""
    flags, texts = {}, {}
    for option in OPTIONS:
        value = draw(st.booleans())
        word = draw(st.sampled_from(SPELLINGS[value]))
        upper = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
        pad = draw(st.sampled_from(["", " ", "\n  "]))
        flags[option], texts[option] = value, f"{pad}{_cased(word, upper)}{pad}"
    return flags, texts


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=spelled_flags(), fmt=st.sampled_from(["json", "xml"]))
def test_booleans_are_read_in_any_case(khaos, case, fmt):
    flags, texts = case
    if fmt == "json":
        body = json.dumps({"Items": [item("6027", "DRC1.JUSTINWBK115", Options=texts)]}).encode()
    else:
        text = vendor("readme_stock_upload.xml").decode()
        for option, spelled in texts.items():
            text, found = re.subn(
                rf"<{option}>\w+</{option}>", f"<{option}>{spelled}</{option}>", text
            )
            assert found == 1
        body = text.encode()

    response = khaos("stock", body, fmt)

    assert response.status_code == 200, response.content
    product = KhaosProduct.objects.get(stock_id="6027")
    read = {
        "PublishOnWeb": product.publish_on_web,
        "Discontinued": product.discontinued,
        "RunToZero": product.run_to_zero,
        "StockControlled": product.stock_controlled,
    }
    assert read == flags


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("value", ["maybe", "2", "truex"])
def test_a_boolean_that_is_neither_is_a_400_naming_the_option(khaos, fmt, value):
    if fmt == "json":
        options = {**vendor_item()["Options"], "Discontinued": value}
        body = json.dumps({"Items": [item("6027", "X", Options=options)]}).encode()
    else:
        body = vendor("readme_stock_upload.xml").replace(
            b"<Discontinued>False</Discontinued>", f"<Discontinued>{value}</Discontinued>".encode()
        )
    response = khaos("stock", body, fmt)
    assert response.status_code == 400
    assert "Items[0].Options.Discontinued must be true or false" in response.json()["error"]
    assert not KhaosProduct.objects.exists()


# --- size, memory and queries ----------------------------------------------------------


def big_stock_upload(at_least: int, description: int = 0) -> tuple[bytes, int]:
    """A StockUpload of the vendor's item, repeated with its own StockID, Stock Code and
    barcode (and a LongDescription of ``description`` characters), until the body is at
    least ``at_least`` bytes."""
    template = vendor_item()
    if description:
        sentence = "Leather upper, padded collar, removable insole. "
        template["LongDescription"] = (sentence * (description // len(sentence) + 1))[:description]
    pieces, size, n = [], 0, 0
    while size < at_least:
        entry = copy.deepcopy(template)
        entry.update(
            StockID=str(100_000 + n),
            StockCode=f"GEN-{n:07d}",
            Barcodes=[{"Barcode": f"50{n:011d}"}],
        )
        piece = json.dumps(entry, separators=(",", ":"))
        pieces.append(piece)
        size += len(piece) + 1
        n += 1
    return ('{"Deleted":[],"Items":[' + ",".join(pieces) + "]}").encode(), n


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_push_of_over_forty_megabytes_is_stored_and_answered(live_server, channel):
    body, count = big_stock_upload(40 * MiB)
    assert len(body) > 40 * MiB

    response = push(live_server.url, "json", "StockUpload", body)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "stored",
        "created": count,
        "updated": 0,
        "renamed": 0,
        "deleted": 0,
    }
    assert KhaosProduct.objects.count() == count
    assert ProductBarcode.objects.count() == count
    last = KhaosProduct.objects.get(stock_id=str(100_000 + count - 1))
    assert last.stock_code == f"GEN-{count - 1:07d}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT octet_length(body), md5(body), status FROM returns_hub_khaosupload")
        assert cursor.fetchall() == [(len(body), hashlib.md5(body).hexdigest(), "stored")]


def _request(body: bytes, endpoint: str, fmt: str):
    return RequestFactory().post(
        f"/khaos/hf/{endpoint}?format={fmt}",
        body,
        content_type=KINDS[fmt],
        **khaos_basic(*CREDENTIALS),
    )


def _xml_stock_upload(body: bytes) -> bytes:
    """The same items in the vendor's XML shape."""
    items = json.loads(body)["Items"]
    return _stock_body("xml", items)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_forty_megabyte_push_is_held_in_memory_about_twice_at_most(channel, fmt):
    """The view's own allocations (traced by tracemalloc, from reading the request to the
    answer) for a 40 MiB push stay below three times the body (JSON: the bytes and their
    decoded text; XML: the bytes alone). Items carry long descriptions here, so that the
    traced run stays short; the many small items of the live test are read the same way,
    a batch at a time."""
    body, count = big_stock_upload(40 * MiB, description=16 * 1024)
    if fmt == "xml":
        body = _xml_stock_upload(body)
    request = _request(body, "stock", fmt)
    view = views.stock  # warm: the channel's password hash checked before measuring
    assert view(_request(b'{"Items": []}', "stock", "json"), slug="hf").status_code == 200

    tracemalloc.start()
    try:
        response = view(request, slug="hf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 200, response.content
    assert json.loads(response.content)["created"] == count
    print(f"{fmt}: body {len(body) / MiB:.1f} MiB, peak traced {peak / MiB:.1f} MiB")
    bound = 3 if fmt == "json" else 2
    assert peak >= len(body)  # the body itself is held once, and was traced
    assert peak < bound * len(body), f"peak {peak / MiB:.0f} MiB for {len(body) / MiB:.0f} MiB"
    upload = KhaosUpload.objects.get(format=fmt.upper(), summary__created=count)
    assert len(upload.body) == len(body)


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_stock_status_push_of_a_thousand_costs_a_bounded_number_of_queries(khaos):
    products = [KhaosProduct(stock_id=str(50_000 + n), stock_code=f"Q-{n}") for n in range(900)]
    KhaosProduct.objects.bulk_create(products)
    statuses = [
        {
            "StockCode": f"Q-{n}",
            "StockID": str(50_000 + n),
            "SiteID": 1 + n % 2,
            "Levels": {"Available": n % 7, "OnOrder": 0},
        }
        for n in range(1000)
    ]
    body = json.dumps({"Statuses": statuses}).encode()

    with sql_log() as statements:
        response = khaos("stock-status", body)

    assert response.status_code == 200, response.content
    unknown = [str(50_000 + n) for n in range(900, 1000)]
    assert response.json() == {"status": "stored", "changed": 900, "unknown": unknown}
    assert StockLevel.objects.count() == 900
    # Two batches of four queries at most, and the push's own few: not one per status.
    assert len(statements) <= 16, statements
    assert len(_writes(statements)) <= 4, _writes(statements)

    statuses[0]["Levels"]["Available"] = 99
    with sql_log() as statements:
        response = khaos("stock-status", json.dumps({"Statuses": statuses}).encode())
    assert response.json()["changed"] == 1
    assert len(statements) <= 16, statements
    level = StockLevel.objects.get(product__stock_id="50000", site_id=1)
    assert level.available == Decimal("99")


def test_a_stock_push_of_a_thousand_costs_a_bounded_number_of_queries(khaos):
    items = [
        item(str(60_000 + n), f"S-{n}", Barcodes=[{"Barcode": f"9{n:012d}"}]) for n in range(1000)
    ]
    with sql_log() as statements:
        response = khaos("stock", json.dumps({"Items": items, "Deleted": []}).encode())
    assert response.json()["created"] == 1000
    # Two batches: products, barcodes, inserts of each; never one per item.
    assert len(statements) <= 20, statements

    for entry in items[::2]:
        entry["StockCode"] += "-R"  # renamed: history kept, the product updated
    with sql_log() as statements:
        response = khaos("stock", json.dumps({"Items": items, "Deleted": ["60001"]}).encode())
    assert response.json() == {
        "status": "stored",
        "created": 0,
        "updated": 500,
        "renamed": 500,
        "deleted": 1,
    }
    assert len(statements) <= 24, statements
    assert KhaosProduct.objects.get(stock_id="60000").old_codes.get().stock_code == "S-0"


def test_a_push_over_the_setting_is_413_and_at_it_is_stored(khaos, settings):
    settings.HUB = {**settings.HUB, "KHAOS_UPLOAD_MAX_BYTES": MiB}
    document = {"Items": [], "Deleted": [], "Pad": ""}
    at_limit = json.dumps(document).encode()
    at_limit = at_limit.replace(b'"Pad": ""', b'"Pad": "' + b"x" * (MiB - len(at_limit)) + b'"')
    assert len(at_limit) == MiB

    assert khaos("stock", at_limit).status_code == 200
    over = khaos("stock", at_limit.replace(b'"Pad": "', b'"Pad": "x'))

    assert over.status_code == 413
    assert "HUB_KHAOS_UPLOAD_MAX_BYTES" in over.json()["error"]
    assert KhaosUpload.objects.count() == 1


def test_a_chunked_push_with_no_length_is_read_to_its_end(channel):
    """gunicorn decodes a chunked body and ends it; Django alone would read nothing."""
    body = vendor("readme_stock_upload.json")
    request = _request(body, "stock", "json")
    del request.META["CONTENT_LENGTH"]
    request.META.update({"wsgi.input": BytesIO(body), "wsgi.input_terminated": True})

    response = views.stock(request, slug="hf")

    assert response.status_code == 200, response.content
    assert KhaosProduct.objects.get().stock_id == "6027"
    assert bytes(KhaosUpload.objects.get().body) == body


def test_an_upload_row_is_kept_by_the_orm_when_the_model_has_other_fields(khaos, monkeypatch):
    """The body is streamed (binary COPY) into the columns views._COPIED names; a field
    added to KhaosUpload that COPY does not write falls back to the ORM, not to a 500."""
    assert views._copy_columns()
    monkeypatch.setattr(views, "_COPIED", (*views._COPIED, "added_later"))
    assert not views._copy_columns()
    body = vendor("readme_stock_upload.json")

    response = khaos("stock", body)

    assert response.status_code == 200, response.content
    upload = KhaosUpload.objects.get()
    assert (bytes(upload.body), upload.summary["created"]) == (body, 1)


# --- what a 200, a 400 and a 500 mean --------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_cut_off_push_is_a_400_kept_whole_with_nothing_applied(khaos, fmt):
    body = vendor(f"readme_stock_upload.{fmt}")
    cut = body[: len(body) * 2 // 3]

    response = khaos("stock", cut, fmt)

    assert response.status_code == 400
    assert "not valid" in response.json()["error"]
    upload = KhaosUpload.objects.get()
    assert (upload.status, bytes(upload.body), upload.error) == (
        "rejected",
        cut,
        response.json()["error"],
    )
    assert not KhaosProduct.objects.exists()


def test_a_fault_of_the_hub_is_a_500_kept_with_nothing_applied(khaos, monkeypatch):
    """Khaos sends a push again after a 500: nothing of the failed one may stay applied."""
    real = views.apply_stock_parts

    def fails_after_writing(parts):
        real(parts)
        assert KhaosProduct.objects.exists()  # written, then the fault
        raise RuntimeError("the database went away")

    monkeypatch.setattr(views, "apply_stock_parts", fails_after_writing)
    body = vendor("readme_stock_upload.json")

    response = khaos("stock", body)

    assert response.status_code == 500
    assert "Khaos will send it again" in response.json()["error"]
    upload = KhaosUpload.objects.get()
    assert (upload.status, bytes(upload.body)) == ("failed", body)
    assert "the database went away" in upload.error
    assert not KhaosProduct.objects.exists()
