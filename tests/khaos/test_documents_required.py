"""The Khaos documents as Khaos accepts them: the order link under the property table's
name (or the examples', per channel), no UnitPrice where the platform gave none, every
Required field present (or no document at all), and every text field within the vendor's
Max Length with no nulls and no control characters, in JSON and in XML.

Limits here are copied from the vendor's README (Address, Contact, Customer tables), not
from the hub's code, so the code is checked against the vendor and not against itself.
"""

import dataclasses
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.khaos import formats
from returns_hub import documents
from returns_hub.choices import SourceReferenceKey
from returns_hub.models import CustomerMapping, ExchangeRequest, KhaosProduct
from returns_hub.services import khaos_documents as kd
from tests import factories
from tests.conftest import khaos_basic
from tests.engine_events import apply, apply_together, graded, opened, unit
from tests.khaos.conftest import loop_exchange

pytestmark = pytest.mark.django_db

# The vendor's Max Length column (kcc-web-services README, "Types & Objects").
VENDOR_LIMITS = {
    "Address": {
        "Line1": 35,
        "Line2": 35,
        "Line3": 35,
        "Town": 35,
        "County": 35,
        "Postcode": 10,
        "Email": 100,
        "Telephone": 25,
        "Fax": 25,
        "Organisation": 50,
    },
    "Contact": {"Title": 20, "Forename": 50, "Surname": 50, "Email": 100, "Mobile": 30},
    "Customer": {
        "OtherRef": 50,
        "WebUser": 50,
        "CompanyName": 50,
        "WebsiteUrl": 50,
        "TaxReference": 20,
    },
}
REF_LIMIT = 50  # an AssociatedRef, by the channel contract (INTERFACE.md)
SOURCE_KEYS = ("SourceReference", "SourceReturnReference")


def download(client, endpoint, fmt="json"):
    response = client.get(f"/khaos/hf/{endpoint}", {"format": fmt}, **khaos_basic())
    assert response.status_code == 200, response.content
    if fmt == "json":
        return documents.loads(response.content)
    return ElementTree.fromstring(response.content)


def posted_rebound(workspace, rid="SR1", order="1043", **kwargs):
    event = opened(
        rid,
        [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
        order=order,
        email="catherine.doyle@example.com",
        **kwargs,
    )
    ret = apply_together(workspace.connections["rebound"], event, graded(rid, "1", "restocked"))
    assert ret.postings.get().state == "ready"
    return ret


# --- the order link ----------------------------------------------------------------


def test_the_order_link_is_the_property_tables_source_reference(client, workspace):
    assert workspace.channel.source_reference_key == "SourceReference"  # the default
    posted_rebound(workspace, order="#1043")

    (item,) = download(client, "returns")["Returns"][0]["ReturnedItems"]
    assert item["SourceReference"] == {"SourceOrder": {"AssociatedRef": "1043"}}
    assert "SourceReturnReference" not in item

    xml = download(client, "returns", "xml").find("Returns/CustomerReturn/ReturnedItems")
    (element,) = xml.findall("ReturnedItem")
    assert element.findtext("SourceReference/SourceOrder/AssociatedRef") == "1043"
    assert element.find("SourceReturnReference") is None


def test_the_channel_setting_switches_to_the_examples_key(client, workspace, capsys):
    call_command(
        "set_khaos_channel",
        "hf",
        "--username=khaos",
        "--password=khaos-pw",
        "--source-reference-key=SourceReturnReference",
    )
    assert "order link SourceReturnReference" in capsys.readouterr().out
    workspace.channel.refresh_from_db()
    assert workspace.channel.source_reference_key == SourceReferenceKey.EXAMPLES
    posted_rebound(workspace)

    (item,) = download(client, "returns")["Returns"][0]["ReturnedItems"]
    assert item["SourceReturnReference"] == {"SourceOrder": {"AssociatedRef": "1043"}}
    assert "SourceReference" not in item
    element = download(client, "returns", "xml").find(
        "Returns/CustomerReturn/ReturnedItems/ReturnedItem"
    )
    assert element.findtext("SourceReturnReference/SourceOrder/AssociatedRef") == "1043"
    assert element.find("SourceReference") is None

    # A document is fixed once ready: switching back changes only documents made later.
    call_command(
        "set_khaos_channel",
        "hf",
        "--username=khaos",
        "--password=khaos-pw",
        "--source-reference-key=SourceReference",
    )
    posted_rebound(workspace, rid="SR2", order="1044")
    served = download(client, "returns")["Returns"]
    assert [sorted(set(i) & set(SOURCE_KEYS)) for r in served for i in r["ReturnedItems"]] == [
        ["SourceReturnReference"],
        ["SourceReference"],
    ]


def test_set_khaos_channel_refuses_an_unknown_key(workspace):
    with pytest.raises(CommandError, match="source-reference-key"):
        call_command(
            "set_khaos_channel",
            "hf",
            "--username=khaos",
            "--password=khaos-pw",
            "--source-reference-key=OrderLink",
        )


def test_the_admin_shows_and_sets_the_channel_setting(client, role_users, workspace):
    client.force_login(role_users["admin"])
    url = reverse("admin:returns_hub_khaoschannel_change", args=[workspace.channel.pk])
    form = client.get(url).context["adminform"].form
    assert form["source_reference_key"].value() == "SourceReference"
    assert [value for value, _ in form.fields["source_reference_key"].choices] == list(SOURCE_KEYS)
    listing = client.get(reverse("admin:returns_hub_khaoschannel_changelist")).content.decode()
    assert "SourceReference" in listing


# --- UnitPrice only where the platform gave one -----------------------------------


def test_unit_price_is_left_out_where_the_platform_gave_no_price(client, workspace):
    hr = workspace.connections["happy-returns"]
    no_price = dataclasses.replace(unit("u1", "HF-FTW-CHL-BRN-08", "0"), price=None)
    priced = unit("u2", "HF-FTW-CHL-BRN-08", "100.00", "20.00")
    also_no_price = dataclasses.replace(unit("u3", "HF-FTW-CHL-BRN-08", "0"), price=None)
    event = opened(
        "HRP", [no_price, priced, also_no_price], order="1011", email="siobhan.oconnell@example.com"
    )
    ret = apply(hr, event, *(graded("HRP", u, "sellable") for u in ("u1", "u2", "u3")))
    assert sorted(ret.units.values_list("price_known", flat=True)) == [False, False, True]

    items = download(client, "returns")["Returns"][0]["ReturnedItems"]
    # One Stock Code, reason and order, but the unpriced units are their own item.
    assert [(i["SKU"], i["Quantity"], i.get("UnitPrice")) for i in items] == [
        ("HF-FTW-CHL-BRN-08", 2, None),
        ("HF-FTW-CHL-BRN-08", 1, {"Gross": Decimal("120.00")}),
    ]
    assert "UnitPrice" not in items[0]  # left out, never null
    xml_items = download(client, "returns", "xml").findall(
        "Returns/CustomerReturn/ReturnedItems/ReturnedItem"
    )
    assert [i.find("UnitPrice") is None for i in xml_items] == [True, False]
    assert xml_items[1].findtext("UnitPrice/Gross") == "120.00"


def test_priced_and_unpriced_lines_are_never_summed_together():
    lines = [
        kd.ReturnLine("A", 3, None, "1"),
        kd.ReturnLine("A", 3, Decimal("10.00"), "1"),
        kd.ReturnLine("A", 3, None, "1"),
        kd.ReturnLine("A", 3, Decimal("10"), "1"),
        kd.ReturnLine("A", 3, Decimal("0.00"), "1"),  # priced at nothing is still a price
    ]
    items = kd.returned_items(lines)
    assert [(i["Quantity"], i.get("UnitPrice")) for i in items] == [
        (2, None),
        (2, {"Gross": Decimal("10.00")}),
        (1, {"Gross": Decimal("0.00")}),
    ]


# --- exchange orders ----------------------------------------------------------------


def test_an_exchange_order_carries_sales_source_company_class_and_extended_description(
    client, workspace
):
    apply(workspace.connections["loop"], loop_exchange())
    (order,) = download(client, "orders")["Orders"]
    assert order["Header"]["SalesSource"] == {"Name": "Web"}
    assert order["Customer"]["CompanyClass"] == {"ID": "1"}
    assert order["Customer"]["Currency"] == {"Code": "GBP"}
    assert [item["ExtendedDescription"] for item in order["Items"]] == [[]]
    for part in ("InvoiceAddress", "DeliveryAddress"):
        assert order[part] == {
            "Line1": "1 High Street",
            "Town": "York",
            "Postcode": "YO1 1AA",
            "Country": {"Code": "GB"},
        }
    assert order["InvoiceContact"] == {
        "Forename": "Test",
        "Surname": "Customer",
        "Email": "tomasz.nowak@example.net",
    }

    xml = download(client, "orders", "xml").find("Orders/SalesOrder")
    assert xml.find("Header/SalesSource").attrib == {"Name": "Web"}
    assert xml.find("Customer/CompanyClass").attrib == {"ID": "1"}
    described = xml.find("Items/OrderItem/ExtendedDescription")
    assert described is not None and not len(described) and not (described.text or "").strip()


def test_an_exchange_order_waits_for_the_channels_sales_source(workspace):
    workspace.channel.sales_source = ""
    workspace.channel.save()
    ret = apply(workspace.connections["loop"], loop_exchange())
    case = ret.exceptions.get(status="open")
    assert (case.kind, case.owner) == ("channel_incomplete", "data")
    assert "sales source" in case.message
    assert not ret.postings.filter(kind="exchange_order", state="ready").exists()


def test_the_builders_never_make_a_document_missing_a_required_field(workspace):
    ret = factories.ReturnFactory(
        connection=workspace.connections["loop"],
        customer_name="Ann Lee",
        address={"line1": "1 Mill Lane", "town": "York", "country_code": "GB"},
        platform_created_at=datetime(2025, 3, 3, 9, tzinfo=UTC),
    )
    product = KhaosProduct.objects.get(stock_code="HF-KNT-MCR-NVY-L")
    swap = ExchangeRequest.objects.create(return_ref=ret, external_id="x1", platform_sku="X")
    channel = workspace.channel
    channel.sales_source = ""
    with pytest.raises(kd.IncompleteDocument, match=r"Header\.SalesSource"):
        kd.exchange_order(ret, swap, ref="R-X", urn="WEB1", product=product, channel=channel)
    channel.sales_source, channel.company_class_id = "Web", ""
    with pytest.raises(kd.IncompleteDocument, match=r"Customer\.CompanyClass"):
        kd.exchange_order(ret, swap, ref="R-X", urn="WEB1", product=product, channel=channel)

    ret.address = {"line1": "1 Mill Lane", "country_code": "GB"}  # no town, no row
    with pytest.raises(kd.IncompleteDocument, match="no town"):
        kd.customer_return(ret, urn="WEB1", lines=[], process=True)
    assert kd.missing_required({"InvoiceAddress": {}, "InvoiceContact": {}}, "CustomerReturn") == [
        "AssociatedRef",
        "CreatedDate",
        "URN",
        "InvoiceAddress",
        "InvoiceContact",
        "InvoiceAddress.Line1",
        "InvoiceAddress.Town",
        "InvoiceAddress.Country",
        "InvoiceContact.Forename or Surname",
    ]


# --- addresses, countries and names -----------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("GB", {"Code": "GB"}),
        (" gb ", {"Code": "GB"}),
        ("UK", {"Code": "GB"}),  # ISO 3166's reserved alias
        ("IE", {"Code": "IE"}),
        ("United Kingdom", {"Name": "United Kingdom"}),
        ("GBR", {"Name": "GBR"}),
        ("", {}),
    ],
)
def test_a_country_is_sent_by_code_or_by_name_and_never_guessed(given, expected):
    assert kd.country(given) == expected


def test_a_missing_country_is_missing_not_gb():
    ret = factories.ReturnFactory.build(
        customer_name="Ann Lee", address={"line1": "1 Mill Lane", "town": "York"}
    )
    party = kd.invoice_party(ret, None)
    assert "Country" not in kd.platform_address(ret)
    assert party.missing == ("Country",)
    assert kd.describe_missing(party.missing) == "no country"


@pytest.mark.parametrize(
    ("name", "contact"),
    [
        ("Eleanor Whitfield", {"Forename": "Eleanor", "Surname": "Whitfield"}),
        ("Mary Ann de Vries", {"Forename": "Mary", "Surname": "Ann de Vries"}),
        ("Cher", {"Surname": "Cher"}),  # one word: the surname Khaos matches contacts on
        ("Mrs Eleanor Whitfield", {"Title": "Mrs", "Forename": "Eleanor", "Surname": "Whitfield"}),
        ("Dr. Who", {"Title": "Dr.", "Surname": "Who"}),
        ("  ", {}),
    ],
)
def test_a_name_becomes_title_forename_and_surname(name, contact):
    assert kd.contact(name, "") == contact


def test_long_values_are_cut_to_the_vendors_lengths_in_the_served_document(client, workspace):
    long_email = "a" * 95 + "@example.com"  # 107 characters: cut, it would be someone else's
    CustomerMapping.objects.create(email=long_email, urn="WEB77")
    event = dataclasses.replace(
        opened(
            "LONG",
            [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="1043",
            email=long_email,
            name="Bartholomew " + "Featherstonehaugh-Smythe " * 4,
        ),
        address={
            "line1": "Flat 1204, The Very Long Building Name of Riverside Quay",
            "line2": "x" * 40,
            "town": "Kingston upon Hull " * 3,
            "postcode": "HU1 1AA  EXTRA",
            "county": "East Riding of Yorkshire, England",
            "phone": "+44 7700 900123 ext 4455 office",
            "country_code": "gb",
        },
    )
    apply_together(workspace.connections["rebound"], event, graded("LONG", "1", "restocked"))

    (ret,) = download(client, "returns")["Returns"]
    assert ret["InvoiceAddress"] == {
        "Line1": "Flat 1204, The Very Long Building N",
        "Line2": "x" * 35,
        "Town": "Kingston upon Hull Kingston upon Hu",
        "County": "East Riding of Yorkshire, England",
        "Postcode": "HU1 1AA  E",
        "Telephone": "+44 7700 900123 ext 4455",
        "Country": {"Code": "GB"},
    }
    assert ret["InvoiceContact"] == {
        "Forename": "Bartholomew",
        "Surname": "Featherstonehaugh-Smythe Featherstonehaugh-Smythe",
    }  # the email is over 100 characters: left out (it is optional), never cut
    _within_vendor_limits(ret, "CustomerReturn")


# --- any text in: within the limits, no nulls, no control characters ---------------

# Every character Python can hold: controls, line breaks, lone surrogates, emoji, RTL.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=120)
FORBIDDEN = {"Cc", "Cs"}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _walk(value, path=""):
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _walk(item, f"{path}[{n}]")


def _within_vendor_limits(document: dict, kind: str) -> None:
    for path, value in _walk(document):
        assert value is not None, f"{path} is null"
        if isinstance(value, str):
            bad = [c for c in value if unicodedata.category(c) in FORBIDDEN or c in "\ufffe\uffff"]
            assert not bad, f"{path} carries {bad!r}"
            assert value == value.strip(), f"{path} has a space at an end"
    parts = {
        "InvoiceAddress": "Address",
        "DeliveryAddress": "Address",
        "InvoiceContact": "Contact",
        "DeliveryContact": "Contact",
        "Customer": "Customer",
    }
    for part, table in parts.items():
        for name, value in document.get(part, {}).items():
            limit = VENDOR_LIMITS[table].get(name)
            if limit is not None:
                assert len(value) <= limit and _utf16(value) <= limit, f"{part}.{name}"
    address, contact = document["InvoiceAddress"], document["InvoiceContact"]
    assert address["Line1"] and address["Town"] and address["Country"]
    assert contact.get("Forename") or contact.get("Surname")
    for item in document.get("ReturnedItems", []):
        for key in SOURCE_KEYS:
            if key in item:
                ref = item[key]["SourceOrder"]["AssociatedRef"]
                assert ref and len(ref) <= REF_LIMIT
    root = "CustomerReturnImport" if kind == "CustomerReturn" else "SalesOrderImport"
    key = "Returns" if kind == "CustomerReturn" else "Orders"
    xml = formats.to_xml(root, {key: [document], "ApiVersion": 1000})
    ElementTree.fromstring(xml)  # well-formed, whatever the text was
    text = xml.decode()
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text)


# Text that is never empty once cleaned, and often longer than any limit.
LONG_TEXT = st.text(st.characters(exclude_categories=()), min_size=20, max_size=150).map(
    lambda text: "Ab" + text
)
SOME_TEXT = st.one_of(ANY_TEXT, LONG_TEXT)
COUNTRY = st.one_of(st.sampled_from(["GB", "gb", "UK", "IE", "United Kingdom"]), LONG_TEXT)


def _build(name, email, address, row):
    channel = factories.KhaosChannelFactory.build(site_id=1)
    connection = factories.PlatformConnectionFactory.build(platform="loop", khaos_channel=channel)
    ret = factories.ReturnFactory.build(
        connection=connection,
        external_id="H1",
        associated_ref="LOOP-H1",
        customer_name=name,
        customer_email=email,
        address=address,
        platform_created_at=datetime(2025, 3, 3, 9, tzinfo=UTC),
    )
    customer = None
    if row is not None:
        customer = CustomerMapping(
            email="h@example.com",
            urn="WEB1",
            name=row[0],
            line1=row[1],
            town=row[2],
            postcode=row[3],
            country=row[4],
        )
    return ret, channel, kd.invoice_party(ret, customer)


def _both_documents(ret, channel, party, order):
    lines = [
        kd.ReturnLine("HF-1", 3, Decimal("9.99"), order),
        kd.ReturnLine("HF-1", 3, None, order),
    ]
    document = kd.customer_return(ret, urn="WEB1", lines=lines, process=True, party=party)
    _within_vendor_limits(document, "CustomerReturn")
    order_doc = kd.exchange_order(
        ret,
        ExchangeRequest(external_id=order, quantity=1),
        ref="LOOP-H1-X",
        urn="WEB1",
        product=KhaosProduct(stock_code="HF-2"),
        channel=channel,
        party=party,
    )
    _within_vendor_limits(order_doc, "SalesOrder")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=LONG_TEXT,
    parts=st.fixed_dictionaries(
        {"line1": LONG_TEXT, "town": LONG_TEXT, "country_code": COUNTRY},
        optional={
            "line2": SOME_TEXT,
            "line3": SOME_TEXT,
            "county": SOME_TEXT,
            "postcode": SOME_TEXT,
            "phone": SOME_TEXT,
        },
    ),
    email=SOME_TEXT,
    order=LONG_TEXT,
)
def test_any_text_from_a_platform_is_served_within_the_vendors_limits(name, parts, email, order):
    ret, channel, party = _build(name, email, parts, None)
    assert party.complete and party.address_from == "platform"
    _both_documents(ret, channel, party, order)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=SOME_TEXT,
    parts=st.fixed_dictionaries({"line1": SOME_TEXT, "town": SOME_TEXT, "country_code": SOME_TEXT}),
    email=SOME_TEXT,
    order=SOME_TEXT,
    row=st.one_of(st.none(), st.tuples(SOME_TEXT, SOME_TEXT, SOME_TEXT, SOME_TEXT, COUNTRY)),
)
def test_any_text_from_a_platform_or_a_customer_row_is_served_or_refused_whole(
    name, parts, email, order, row
):
    ret, channel, party = _build(name, email, parts, row)
    if party.missing:
        # Nothing is made: the engine holds the return with incomplete_address instead.
        with pytest.raises(kd.IncompleteDocument):
            kd.customer_return(ret, urn="WEB1", lines=[], process=True, party=party)
        return
    _both_documents(ret, channel, party, order or "1001")


def test_the_code_limits_are_the_vendors():
    """The one table in code holds every Max Length of the vendor's tables the hub uses."""
    for table, limits in VENDOR_LIMITS.items():
        assert kd.LIMITS[table] == limits
    assert kd.LIMITS["SourceOrder"] == {"AssociatedRef": REF_LIMIT}
