"""The Khaos validator (connectors/khaos/validation.py) against the vendor's own material.

Everything here is read from the vendor's README and its examples, copied unchanged into
tests/fixtures/realworld/khaos/: the encoded tables are compared with the README's
tables, the README's examples must validate once their known defects are corrected
(each correction shown to be needed), and every Required field and Max Length the
README's tables list is removed or exceeded, one at a time, and must be refused by name.
The simulator's refusals are checked last, over a fake hub (httpx.MockTransport).
"""

import copy
import json
import re
from decimal import Decimal
from xml.etree import ElementTree

import httpx
import pytest

from connectors.khaos import validation
from connectors.khaos.simulator import (
    FIRST_CONTACT,
    ConfigRefused,
    KhaosSimulator,
    KhaosState,
    Product,
    Reason,
    Refusal,
)
from tests.conftest import FIXTURES

REALWORLD = FIXTURES / "realworld" / "khaos"
README = (REALWORLD / "kcc-README.md").read_text()
RETURN_JSON = "readme_customer_return_download_CustomerReturnImport.json"
RETURN_XML = "readme_customer_return_download_CustomerReturnImport.xml"
ORDER_JSON = "readme_order_download_SalesOrderImport.json"
ORDER_XML = "readme_order_download_SalesOrderImport.xml"
EXAMPLES_KEY = "SourceReturnReference"  # the README's examples name the order link so


# --- the README's tables, read from the README --------------------------------------


def _heading(heading: str, start: int = 0) -> int:
    lines = README.splitlines()
    return next(n for n in range(start, len(lines)) if lines[n].strip() == heading)


def readme_table(heading: str, *within: str) -> list[dict[str, str]]:
    """The first table after ``heading`` (then after each of ``within`` in turn)."""
    lines = README.splitlines()
    at = _heading(heading)
    for sub in within:
        at = _heading(sub, at)
    while "|" not in lines[at]:
        at += 1
    header = [cell.strip() for cell in lines[at].split("|")]
    rows = []
    for line in lines[at + 2 :]:
        if "|" not in line:
            break
        line = line.strip()[1:] if line.strip().startswith("|") else line
        rows.append(dict(zip(header, (cell.strip() for cell in line.split("|")), strict=False)))
    return rows


def _name(cell: str) -> str:
    return re.sub(r"\*|\[|\]|\(#[^)]*\)", "", cell).strip()


def _type(cell: str) -> str:
    names = re.findall(r"``(\w+)``", cell)
    if cell.lower() == "string":
        return "String"
    if cell in ("Array of String", "Array[String]"):
        return "Array[String]"
    for wrapper in ("Array", "OneOf"):
        if cell.startswith(f"{wrapper}["):
            return f"{wrapper}[{names[0]}]"
    return names[0] if names else cell


# Our type name → where the README's table for it is.
README_TABLES = {
    "CustomerReturnImport": ("## Customer Return Download", "### JSON"),
    "SalesOrderImport": ("## Order Download", "### JSON"),
    **{
        name: (f"### {name}",)
        for name in (
            "CustomerReturn",
            "CustomerReturnItem",
            "CustomerExchangeItem",
            "SourceReturnReference",
            "SourceOrder",
            "CustomerReturnImportConfig",
            "OrderImportConfig",
            "SalesOrder",
            "Customer",
            "Address",
            "Contact",
            "OrderHeader",
            "LockableDate",
            "OrderItem",
            "OrderItemDescription",
            "ItemMapping",
            "OrderPayment",
            "CashPayment",
            "ChequePayment",
            "VoucherPayment",
            "BACSPayment",
            "CardPayment",
            "Price",
        )
    },
}


def readme_fields(type_name: str) -> dict[str, dict]:
    """{field: {type, required, max}} from the README's table for ``type_name``."""
    fields = {}
    for row in readme_table(*README_TABLES[type_name]):
        name = _name(row.get("Name") or row.get("Object") or "")
        if " or " in name:  # OrderPayment's "Cash or Cheque or Card or Voucher or BACS"
            continue
        length = row.get("Max Length", "")
        fields[name] = {
            "type": _type(row["Type"]),
            "required": row["Required"] == "Yes",
            "max": int(length) if length.isdigit() else None,
        }
    return fields


def _encoded(item: validation.Field) -> str:
    if item.array:
        return f"Array[{item.type}]"
    return f"OneOf[{item.type}]" if item.one_of else item.type


# Where our encoding departs from a README table, and why.
DEVIATIONS = {
    # The table says String; the same section's examples (and the JSON Response) send
    # arrays, as OrderImportConfig's table says for the same options.
    ("CustomerReturnImportConfig", "MatchAddressOn"): "Array[String]",
    ("CustomerReturnImportConfig", "MatchContactOn"): "Array[String]",
}
# Max lengths a table's description gives in words (its table has no Max Length column).
LIMITS_IN_WORDS = {("CardPayment", "CardType"): 25}


@pytest.mark.parametrize("type_name", sorted(README_TABLES))
def test_the_encoded_tables_are_the_readmes_tables(type_name):
    readme = readme_fields(type_name)
    ours = validation.SCHEMA[type_name]
    payment_kinds = {"Cash", "Cheque", "Card", "Voucher", "BACS"}
    extra = payment_kinds if type_name == "OrderPayment" else set()
    assert set(ours) == set(readme) | extra
    for name, row in readme.items():
        item = ours[name]
        expected_type = DEVIATIONS.get((type_name, name), row["type"])
        expected_max = LIMITS_IN_WORDS.get((type_name, name), row["max"])
        assert (_encoded(item), item.required, item.max_length) == (
            expected_type,
            row["required"],
            expected_max,
        ), name
    if extra:  # one Required row in the README: exactly one kind (OBJECT_RULES)
        assert validation.OBJECT_RULES["OrderPayment"][:2] == (
            "exactly one",
            ("Cash", "Cheque", "Card", "Voucher", "BACS"),
        )


def test_the_encoded_endpoint_config_is_the_readmes_structure():
    endpoints: dict[str, tuple[bool, list[str]]] = {}
    current = None
    for row in readme_table("## Structure"):
        if row["Object"]:
            current = _name(row["Object"])
            endpoints[current] = (row["Required"] == "Yes", [])
        else:
            endpoints[current][1].append(row["Property"])
    ours = validation.SCHEMA["EndpointConfig"]
    assert set(ours) == set(endpoints)
    for name, (required, properties) in endpoints.items():
        assert ours[name].required == required, name
        sub = validation.SCHEMA[ours[name].type]
        assert set(sub) == set(properties), name
        # "the sub-properties (URL, Format, Frequency) are required if the parent
        # endpoint is specified"
        assert all(item.required for item in sub.values()), name


def test_the_card_type_limit_from_its_description_is_encoded():
    # "This has a limit of 25 characters": in the description, not a Max Length column.
    card_type = next(r for r in readme_table("### CardPayment") if "CardType" in r["Name"])
    assert "This has a limit of 25 characters" in card_type["Description"]
    assert validation.SCHEMA["CardPayment"]["CardType"].max_length == 25


# --- the README's examples, corrected minimally --------------------------------------


def read(name: str) -> str:
    return (REALWORLD / name).read_text()


def messages(body, endpoint, fmt="JSON", key="SourceReference") -> list[str]:
    return validation.check_download(body, endpoint, fmt=fmt, source_reference_key=key).messages


def return_json() -> dict:
    """The README's return JSON with its two corrections."""
    document = json.loads(read(RETURN_JSON), parse_float=Decimal)
    document["Returns"] = [document["Returns"]]  # the table: an array
    source = document["Returns"][0]["ReturnedItems"][0][EXAMPLES_KEY]["SourceOrder"]
    del source["AssociatedRef"], source["SOrderCode"]  # OneOf: SOrderID alone
    return document


def return_xml() -> str:
    """The README's return XML with its two corrections."""
    text = read(RETURN_XML)
    text = text.replace("</ReturednItems>", "</ReturnedItems>")  # the closing tag's typo
    for extra in ("<AssociatedRef />", "<SOrderCode>SO2075</SOrderCode>"):  # OneOf
        assert text.count(extra) == 1
        text = text.replace(extra, "")
    return text


def order_json() -> dict:
    return json.loads(read(ORDER_JSON), parse_float=Decimal)  # needs no correction


def order_xml() -> str:
    """The README's order XML with the Required ExtendedDescription its items lack."""
    text, count = re.subn(
        r"(<Quantity>1</Quantity>)", r"\1<ExtendedDescription />", read(ORDER_XML)
    )
    assert count == 4  # one per OrderItem
    return text


ONE_OF = (
    "Returns[0].ReturnedItems[0].SourceReturnReference.SourceOrder: exactly one of "
    "AssociatedRef, SOrderID, SOrderCode, SOrderItemID (found: AssociatedRef, SOrderID, "
    "SOrderCode)"
)


def test_the_return_json_example_validates_after_its_corrections():
    raw = read(RETURN_JSON)
    assert messages(raw, "CReturnDownload", key=EXAMPLES_KEY) == [
        "Returns must be an array of CustomerReturn, not an object"
    ]
    as_array = json.loads(raw, parse_float=Decimal)
    as_array["Returns"] = [as_array["Returns"]]
    assert messages(as_array, "CReturnDownload", key=EXAMPLES_KEY) == [ONE_OF]
    result = validation.check_download(
        return_json(), "CReturnDownload", source_reference_key=EXAMPLES_KEY
    )
    assert (result.problems, result.ignored) == ([], [])


def test_the_return_xml_example_validates_after_its_corrections():
    raw = read(RETURN_XML)
    assert messages(raw, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        "the document is not well-formed XML: mismatched tag: line 51, column 11"
    ]
    well_formed = raw.replace("</ReturednItems>", "</ReturnedItems>")
    assert messages(well_formed, "CReturnDownload", "XML", EXAMPLES_KEY) == [ONE_OF]
    result = validation.check_download(
        return_xml(), "CReturnDownload", fmt="XML", source_reference_key=EXAMPLES_KEY
    )
    assert (result.problems, result.ignored) == ([], [])
    item = result.document["Returns"][0]["ReturnedItems"][0]
    assert item["Quantity"] == Decimal("3") and item["ReturnReason"] == {"ID": "6"}
    assert item[EXAMPLES_KEY] == {"SourceOrder": {"SOrderID": "2075"}}


def test_the_order_json_example_validates_as_it_is():
    result = validation.check_download(read(ORDER_JSON).encode(), "OrderDownload")
    assert (result.problems, result.ignored) == ([], [])


def test_the_order_xml_example_validates_once_its_items_have_their_required_lines():
    # The table marks OrderItem.ExtendedDescription Required (the JSON example sends []);
    # the older XML example leaves it out of all four items. The tables win.
    assert messages(read(ORDER_XML), "OrderDownload", "XML") == [
        "Orders[0].Items[0].ExtendedDescription is Required",
        "Orders[0].Items[1].ExtendedDescription is Required",
        "Orders[1].Items[0].ExtendedDescription is Required",
        "Orders[2].Items[0].ExtendedDescription is Required",
    ]
    result = validation.check_download(order_xml(), "OrderDownload", fmt="XML")
    assert (result.problems, result.ignored) == ([], [])
    order = result.document["Orders"][0]
    assert order["Customer"]["TaxExempt"] is False  # <TaxExempt>False</TaxExempt>
    assert order["Items"][0]["StockDescription"] == {
        "Source": "Explicit",
        "Parameter": "Croquet set - Luxury 4 Player - Oxford - Jaques",
    }
    assert order["Payments"][0]["BankAccount"] == {"Name": "AccountName"}  # the element's text
    assert result.document["Config"]["MatchCompanyOn"] == ["Address1", "CompanyCode"]


def test_the_examples_spelling_of_the_order_link_is_the_link_only_when_the_channel_says_so():
    document = return_json()
    # This Khaos reads SourceReference (the table): the examples' key is a field it ignores.
    result = validation.check_download(document, "CReturnDownload")
    assert result.problems == []
    assert [str(p) for p in result.ignored] == [
        "Returns[0].ReturnedItems[0].SourceReturnReference is not a field of CustomerReturnItem: "
        "Khaos ignores it (this Khaos reads the order link as SourceReference)"
    ]
    # The table's spelling, under the table's setting, is read and checked.
    item = document["Returns"][0]["ReturnedItems"][0]
    item["SourceReference"] = item.pop(EXAMPLES_KEY)
    assert validation.check_download(document, "CReturnDownload").ignored == []
    item["SourceReference"]["SourceOrder"]["SOrderCode"] = "SO2075"
    assert messages(document, "CReturnDownload") == [
        "Returns[0].ReturnedItems[0].SourceReference.SourceOrder: exactly one of AssociatedRef, "
        "SOrderID, SOrderCode, SOrderItemID (found: SOrderID, SOrderCode)"
    ]


def test_the_readmes_config_files_are_accepted_and_a_broken_one_is_not():
    for name in ("readme_endpoint_config_example.xml", "repo_config.xml"):
        result = validation.check_config(read(name), fmt="XML")
        assert (result.problems, result.ignored) == ([], []), name
    config = {
        "OrderDownload": {"URL": "https://hub/orders", "Format": "JSON", "Frequency": 15},
        "StockStatusUpload": {"URL": "https://hub/stock-status", "Format": "JSON"},
        "StockUpload": {"URL": "https://hub/stock", "Format": "JSON"},
    }
    assert validation.check_config({"EndpointConfig": config}).messages == []
    assert validation.check_config(json.dumps(config)).messages == [
        "the configuration must be wrapped inside an EndpointConfig property"
    ]
    broken = copy.deepcopy(config)
    del broken["StockUpload"], broken["OrderDownload"]["Frequency"]
    broken["StockStatusUpload"]["Format"] = "CSV"
    assert validation.check_config({"EndpointConfig": broken}).messages == [
        "OrderDownload.Frequency is Required",
        "StockStatusUpload.Format must be one of XML, JSON, not 'CSV'",
        "StockUpload is Required",
    ]


# --- every Required field of the README's tables, removed --------------------------

# Where an object of each type is in the corrected examples: JSON keys and XML path.
PLACES = {
    "CustomerReturnImport": ("return", [], "."),
    "CustomerReturn": ("return", ["Returns", 0], "Returns/CustomerReturn"),
    "CustomerReturnItem": (
        "return",
        ["Returns", 0, "ReturnedItems", 0],
        "Returns/CustomerReturn/ReturnedItems/ReturnedItem",
    ),
    "Address": (
        "return",
        ["Returns", 0, "InvoiceAddress"],
        "Returns/CustomerReturn/InvoiceAddress",
    ),
    "SalesOrderImport": ("order", [], "."),
    "SalesOrder": ("order", ["Orders", 0], "Orders/SalesOrder"),
    "OrderHeader": ("order", ["Orders", 0, "Header"], "Orders/SalesOrder/Header"),
    "Customer": ("order", ["Orders", 0, "Customer"], "Orders/SalesOrder/Customer"),
    "OrderItem": ("order", ["Orders", 0, "Items", 0], "Orders/SalesOrder/Items/OrderItem"),
}
ENDPOINTS = {"return": "CReturnDownload", "order": "OrderDownload"}
REQUIRED = [
    (type_name, name)
    for type_name in PLACES
    for name, row in readme_fields(type_name).items()
    if row["required"]
]


def _path(keys: list) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")


def test_the_readme_marks_these_fields_required():
    assert len(REQUIRED) == 33  # guards the table reading itself
    assert ("Address", "Town") in REQUIRED and ("OrderItem", "UnitPrice") in REQUIRED
    assert ("CustomerReturnItem", "UnitPrice") not in REQUIRED


@pytest.mark.parametrize(("type_name", "name"), REQUIRED, ids=[f"{t}.{n}" for t, n in REQUIRED])
def test_a_document_without_a_required_field_is_refused_in_json(type_name, name):
    kind, keys, _ = PLACES[type_name]
    document = return_json() if kind == "return" else order_json()
    obj = document
    for key in keys:
        obj = obj[key]
    del obj[name]
    where = f"{_path(keys)}.{name}".lstrip(".")
    assert messages(document, ENDPOINTS[kind], key=EXAMPLES_KEY) == [f"{where} is Required"]


@pytest.mark.parametrize(("type_name", "name"), REQUIRED, ids=[f"{t}.{n}" for t, n in REQUIRED])
def test_a_document_without_a_required_field_is_refused_in_xml(type_name, name):
    kind, keys, xpath = PLACES[type_name]
    root = ElementTree.fromstring(return_xml() if kind == "return" else order_xml())
    parent = root.find(xpath)
    parent.remove(parent.find(name))
    where = f"{_path(keys)}.{name}".lstrip(".")
    body = ElementTree.tostring(root)
    assert messages(body, ENDPOINTS[kind], "XML", EXAMPLES_KEY) == [f"{where} is Required"]


def test_a_required_string_sent_blank_is_refused():
    document = return_json()
    document["Returns"][0]["InvoiceAddress"]["Town"] = "  "
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [
        "Returns[0].InvoiceAddress.Town is Required, and it is blank"
    ]


@pytest.mark.parametrize(
    "contact",
    [{"Email": "email@test.com"}, {}, {"Forename": "", "Surname": " "}],
    ids=["email-only", "empty", "blank"],
)
def test_a_contact_without_a_forename_or_surname_is_refused(contact):
    # The Contact table marks nothing Required; its rows say "Either forname or surname
    # must be filled in".
    assert "Either forname or surname must be filled in" in README
    for kind, where in (("return", "Returns[0]"), ("order", "Orders[0]")):
        document = return_json() if kind == "return" else order_json()
        document[where.split("[")[0]][0]["InvoiceContact"] = contact
        assert messages(document, ENDPOINTS[kind], key=EXAMPLES_KEY) == [
            f"{where}.InvoiceContact: Forename or Surname is Required (not blank)"
        ]


# --- lengths, nulls, DataItems, types --------------------------------------------------

LIMITED = [
    (type_name, name, row["max"])
    for type_name in ("Customer", "Address", "Contact")
    for name, row in readme_fields(type_name).items()
    if row["max"]
] + [("CardPayment", "CardType", 25)]
LIMIT_PLACES = {
    "Customer": ["Orders", 0, "Customer"],
    "Address": ["Orders", 0, "InvoiceAddress"],
    "Contact": ["Orders", 0, "InvoiceContact"],
    "CardPayment": ["Orders", 0, "Payments", 0, "Card"],
}


@pytest.mark.parametrize(
    ("type_name", "name", "limit"), LIMITED, ids=[f"{t}.{n}" for t, n, _ in LIMITED]
)
def test_a_string_over_its_max_length_is_refused(type_name, name, limit):
    document = order_json()
    obj = document
    for key in LIMIT_PLACES[type_name]:
        obj = obj[key]
    obj[name] = "é" * limit  # characters, not bytes
    assert messages(document, "OrderDownload") == []
    obj[name] = "x" * (limit + 1)
    where = _path(LIMIT_PLACES[type_name])
    assert messages(document, "OrderDownload") == [
        f"{where}.{name} is {limit + 1} characters, max {limit}"
    ]


def test_an_over_long_address_line_is_refused_in_xml():
    text = return_xml().replace(
        "<Line1>1 - 3 Priest Court</Line1>", f"<Line1>{'y' * 41}</Line1>", 1
    )
    assert messages(text, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        "Returns[0].InvoiceAddress.Line1 is 41 characters, max 35"
    ]


NULLS = [
    (["Returns"], "Returns"),
    (["ApiVersion"], "ApiVersion"),
    (["Returns", 0, "URN"], "Returns[0].URN"),
    (["Returns", 0, "Notes"], "Returns[0].Notes"),
    (["Returns", 0, "InvoiceAddress", "Postcode"], "Returns[0].InvoiceAddress.Postcode"),
    (
        ["Returns", 0, "ReturnedItems", 0, "ReturnReason", "ID"],
        "Returns[0].ReturnedItems[0].ReturnReason.ID",
    ),
    (["Returns", 0, "ReturnedItems", 0, "UnitPrice"], "Returns[0].ReturnedItems[0].UnitPrice"),
    (["Returns", 0, "ExchangeItems", 0], "Returns[0].ExchangeItems[0]"),
]


@pytest.mark.parametrize(("keys", "where"), NULLS, ids=[w for _, w in NULLS])
def test_a_null_is_refused_wherever_it_is(keys, where):
    document = return_json()
    obj = document
    for key in keys[:-1]:
        obj = obj[key]
    obj[keys[-1]] = None
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [
        f'{where} is null: a null value is an error (send "" or leave it out)'
    ]


def test_a_null_array_item_and_an_xml_nil_are_refused():
    document = return_json()
    document["Returns"][0]["ReturnedItems"][0]["ExtendedDescription"] = ["Gift", None]
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [
        "Returns[0].ReturnedItems[0].ExtendedDescription[1] is null: a null value is an error "
        '(send "" or leave it out)'
    ]
    nil = '<Notes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
    text = return_xml().replace("<URN>TOMA</URN>", f"<URN>TOMA</URN>{nil}")
    assert messages(text, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        'Returns[0].Notes is null: a null value is an error (send "" or leave it out)'
    ]


REASON = "Returns[0].ReturnedItems[0].ReturnReason"
DATA_ITEMS = [
    ({"ID": 6}, [f"{REASON}.ID must be string data, not the number 6"]),
    ("6", [f"{REASON} must be a DataItem (an object with ID, Code or Name), not the text '6'"]),
    ({}, [f"{REASON} must be a DataItem (an object with ID, Code or Name); it has none of them"]),
    (
        {"Id": "6"},
        [
            f"{REASON} must be a DataItem (an object with ID, Code or Name); it has none of them",
            f"{REASON}.Id is not part of a DataItem (ID, Code or Name only)",
        ],
    ),
    (
        [{"ID": "6"}],
        [f"{REASON} must be a DataItem (an object with ID, Code or Name), not an array"],
    ),
    ({"ID": "6", "Name": "Faulty"}, []),  # several, as Khaos's own documents carry
]


@pytest.mark.parametrize(("value", "expected"), DATA_ITEMS, ids=range(len(DATA_ITEMS)))
def test_a_wrong_data_item_is_refused(value, expected):
    document = return_json()
    document["Returns"][0]["ReturnedItems"][0]["ReturnReason"] = value
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == expected


def test_a_data_item_in_xml_is_attributes_not_child_elements():
    text = return_xml().replace('<ReturnReason ID="6"/>', "<ReturnReason><ID>6</ID></ReturnReason>")
    assert messages(text, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        f'{REASON}: in XML a DataItem\'s ID, Code or Name are attributes (<ReturnReason ID="6"/>), '
        "not child elements"
    ]


def test_a_sales_source_or_brand_cannot_be_matched_by_code():
    assert "Please note that SalesSource does not support matching by Code" in README
    document = order_json()
    document["Orders"][0]["Header"]["SalesSource"] = {"Code": "WEB"}
    document["Orders"][0]["Header"]["Brand"] = {"Name": "HF"}
    assert messages(document, "OrderDownload") == [
        "Orders[0].Header.SalesSource.Code: SalesSource does not support matching by Code"
    ]


ITEM = "Returns[0].ReturnedItems[0]"
WRONG_TYPES = [
    ("Quantity", "3", f"{ITEM}.Quantity must be a number (Double), not the text '3'"),
    ("Quantity", True, f"{ITEM}.Quantity must be a number (Double), not the boolean true"),
    ("SKU", 714, f"{ITEM}.SKU must be a String, not the number 714"),
    ("UnitPrice", {}, f"{ITEM}.UnitPrice: Net or Gross is Required"),
    (
        "UnitPrice",
        {"Gross": "2.10"},
        f"{ITEM}.UnitPrice.Gross must be a number (Double), not the text '2.10'",
    ),
    ("UnitPrice", 2.1, f"{ITEM}.UnitPrice must be a Price object, not the number 2.1"),
    (
        "Mapping",
        [{"Mapping": "SKU"}],
        f"{ITEM}.Mapping[0].Mapping must be one of StockCode, OtherRef, Barcode, WebCode, "
        "Automatic, not 'SKU'",
    ),
    (
        "Mapping",
        {"Mapping": "StockCode"},
        f"{ITEM}.Mapping must be an array of ItemMapping, not an object",
    ),
    (
        "ExtendedDescription",
        "Gift",
        f"{ITEM}.ExtendedDescription must be an array of String, not the text 'Gift'",
    ),
    (
        EXAMPLES_KEY,
        {"SourceOrder": {}},
        f"{ITEM}.{EXAMPLES_KEY}.SourceOrder: exactly one of AssociatedRef, SOrderID, SOrderCode, "
        "SOrderItemID (found: none)",
    ),
    (
        EXAMPLES_KEY,
        {"SourceOrder": {"AssociatedRef": ""}},
        f"{ITEM}.{EXAMPLES_KEY}.SourceOrder: AssociatedRef is blank, so it names nothing",
    ),
    (EXAMPLES_KEY, {}, f"{ITEM}.{EXAMPLES_KEY}.SourceOrder is Required"),
]


@pytest.mark.parametrize(("name", "value", "expected"), WRONG_TYPES, ids=range(len(WRONG_TYPES)))
def test_a_value_of_the_wrong_type_is_refused(name, value, expected):
    document = return_json()
    document["Returns"][0]["ReturnedItems"][0][name] = value
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [expected]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2018-06-28T15:14:56", True),
        ("2018-06-28T15:14:56.250", True),
        ("2018-06-28T15:14:56Z", False),
        ("2018-06-28T15:14:56+01:00", False),
        ("2018-06-28 15:14:56", False),
        ("2018-06-28", False),
        ("2018-02-30T10:00:00", False),
        ("28/06/2018 15:14", False),
    ],
)
def test_a_datetime_is_rfc_3339_without_an_offset(value, ok):
    document = return_json()
    document["Returns"][0]["CreatedDate"] = value
    expected = [
        f"Returns[0].CreatedDate must be a DateTime like 2018-01-18T12:20:48 (RFC 3339 without "
        f"an offset), not {value!r}"
    ]
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == ([] if ok else expected)


def test_booleans_integers_and_listed_values():
    document = return_json()
    document["Returns"][0]["ProcessReturn"] = "true"
    document["ApiVersion"] = 10000  # the PHP sample's value
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [
        "Returns[0].ProcessReturn must be true or false, not the text 'true'",
        "ApiVersion must be one of 1000, not 10000",
    ]
    document["ApiVersion"] = "1000"
    document["Returns"][0]["ProcessReturn"] = True
    assert messages(document, "CReturnDownload", key=EXAMPLES_KEY) == [
        "ApiVersion must be an Integer, not the text '1000'"
    ]
    order = order_json()
    order["Orders"][0]["Customer"]["CreateNew"] = "Sometimes"
    order["Orders"][0]["Header"]["CalcMethod"] = 3
    order["Orders"][0]["Items"][0]["PackLink"] = "1.2"
    assert messages(order, "OrderDownload") == [
        "Orders[0].Customer.CreateNew must be one of IfNoMatch, Always, Never, not 'Sometimes'",
        "Orders[0].Header.CalcMethod must be one of 0, 1, 2, not 3",
        "Orders[0].Items[0].PackLink must match \\d{3}\\.\\d{3}, not '1.2'",
    ]
    text = return_xml().replace(
        "</ExchangeItems>", "</ExchangeItems><ProcessReturn>yes</ProcessReturn>"
    )
    assert messages(text, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        "Returns[0].ProcessReturn must be true or false, not the text 'yes'"
    ]
    text = return_xml().replace("<Quantity>3</Quantity>", "<Quantity>three</Quantity>")
    assert messages(text, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        f"{ITEM}.Quantity must be a number (Double), not the text 'three'"
    ]


def test_payments_are_exactly_one_kind_and_a_blank_urn_is_left_out():
    document = order_json()
    document["Orders"][0]["Payments"][0]["Cash"] = {}
    document["Orders"][0]["Customer"]["URN"] = ""
    assert "don't provide a null or blank URN" in README
    assert messages(document, "OrderDownload") == [
        "Orders[0].Customer.URN must not be blank: leave the field out instead",
        "Orders[0].Payments[0]: exactly one of Cash, Cheque, Card, Voucher, BACS "
        "(found: Cash, Card)",
    ]


def test_unknown_fields_are_ignored_not_refused():
    document = return_json()
    document["Returns"][0]["Colour"] = "teal"
    document["Returns"][0]["InvoiceAddress"]["Line4"] = "Annexe"
    result = validation.check_download(
        document, "CReturnDownload", source_reference_key=EXAMPLES_KEY
    )
    assert result.problems == []
    assert [str(p) for p in result.ignored] == [
        "Returns[0].InvoiceAddress.Line4 is not a field of Address: Khaos ignores it",
        "Returns[0].Colour is not a field of CustomerReturn: Khaos ignores it",
    ]


def test_documents_khaos_cannot_read_are_refused_whole():
    assert messages(b'{"Returns": [], "ApiVersion": 1000, "Returns": []}', "CReturnDownload") == [
        "Returns is given more than once in the same object"
    ]
    assert messages(b'{"Returns": [], "ApiVersion": NaN}', "CReturnDownload") == [
        "the document is not valid JSON: NaN is not a JSON value"
    ]
    assert messages(b"[]", "CReturnDownload") == ["the document must be an object, not an array"]
    assert messages(b"<SalesOrderImport/>", "CReturnDownload", "XML") == [
        "the XML root is <SalesOrderImport>; Khaos reads <CustomerReturnImport>"
    ]
    bomb = b'<!DOCTYPE r [<!ENTITY a "aaaa">]><CustomerReturnImport>&a;</CustomerReturnImport>'
    assert messages(bomb, "CReturnDownload", "XML") == [
        "the document is XML Khaos does not read (it has a DTD or entities)"
    ]


def test_xml_lists_use_the_item_element_names_and_single_values_are_single():
    old_item = (
        return_xml()
        .replace("<ReturnedItem>", "<ReturnItem>")
        .replace("</ReturnedItem>", "</ReturnItem>")
    )
    assert messages(old_item, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        "Returns[0].ReturnedItems: <ReturnItem> is not a <ReturnedItem> element; "
        "Khaos reads only <ReturnedItem> items here"
    ]
    twice = return_xml().replace(
        "<Town>Grantham</Town>", "<Town>Grantham</Town><Town>York</Town>", 1
    )
    assert messages(twice, "CReturnDownload", "XML", EXAMPLES_KEY) == [
        "Returns[0].InvoiceAddress.Town appears 2 times; it is one value, not a list"
    ]
    # The older names are fields Khaos does not know: ignored, and the return has no items.
    older = old_item.replace("ReturnedItems>", "ReturnItems>")
    result = validation.check_download(
        older, "CReturnDownload", fmt="XML", source_reference_key=EXAMPLES_KEY
    )
    assert result.problems == []
    assert [p.path for p in result.ignored] == ["Returns[0].ReturnItems"]


# --- the simulator refuses what the validator finds ---------------------------------


class FakeHub:
    """The hub's channel over httpx.MockTransport: config, and download pages."""

    def __init__(self, returns: list, *, api_version=1000):
        self.returns = returns
        self.api_version = api_version
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/config"):
            endpoint = {"Format": "JSON", "Frequency": 15}
            config = {
                name: {"URL": f"http://hub.test/{name}", **endpoint}
                for name in ("OrderDownload", "CReturnDownload")
            } | {
                name: {"URL": f"http://hub.test/{name}", "Format": "JSON"}
                for name in ("StockUpload", "StockStatusUpload")
            }
            return httpx.Response(200, json={"EndpointConfig": config})
        specific = request.headers.get("SpecificIDs", "").strip('"')
        token = request.headers["Sirion-Continuation"]
        if specific:
            page = [r for r in self.returns if r["AssociatedRef"] in specific.split(",")]
        else:
            page = [] if token == "hub-1" else self.returns
        body = {"Returns": page, "ApiVersion": self.api_version}
        if request.url.path.endswith("OrderDownload"):
            body = {"Orders": [], "ApiVersion": self.api_version}
        return httpx.Response(200, json=body, headers={"Sirion-Continuation": "hub-1"})


def _state() -> KhaosState:
    product = Product("1", "B0714PRW7R", "1", {"Gross": 12.0})
    return KhaosState(
        products={"1": product}, customers={"TOMA"}, reasons={"6": Reason("6", "return_to_stock")}
    )


def _return(ref: str) -> dict:
    record = copy.deepcopy(return_json()["Returns"][0])
    record["AssociatedRef"] = ref
    record["ProcessReturn"] = True
    item = record["ReturnedItems"][0]
    item["SourceReference"] = item.pop(EXAMPLES_KEY)
    item["UnitPrice"] = {"Gross": 9.5}
    return record


def _simulator(hub: FakeHub) -> KhaosSimulator:
    client = httpx.Client(transport=httpx.MockTransport(hub.handle))
    return KhaosSimulator("http://hub.test", "hf", "khaos", "pw", _state(), client=client)


def test_the_simulator_refuses_a_record_with_problems_and_imports_the_rest():
    broken = _return("AREF2")
    del broken["InvoiceAddress"]["Town"]
    hub = FakeHub([_return("AREF1"), broken])
    sim = _simulator(hub)
    sim.load_config()
    assert sim.poll_returns() == 1
    assert list(sim.state.returns) == ["AREF1"]
    assert sim.refusals == [
        Refusal("CReturnDownload", "AREF2", ["Returns[1].InvoiceAddress.Town is Required"])
    ]
    assert sim.state.refused == {"AREF2": "Returns[1].InvoiceAddress.Town is Required"}

    # Fixed at the hub; a Khaos user retries it by name.
    broken["InvoiceAddress"]["Town"] = "Grantham"
    assert sim.retry_failed() == 1
    assert hub.requests[-1].headers["SpecificIDs"] == '"AREF2"'
    assert list(sim.state.returns) == ["AREF1", "AREF2"] and sim.state.refused == {}
    assert [note.gross for note in sim.state.credit_notes] == [Decimal("28.5")] * 2


def test_a_document_khaos_cannot_read_is_refused_whole_and_asked_for_again():
    hub = FakeHub([_return("AREF1")], api_version=10000)
    sim = _simulator(hub)
    sim.load_config()
    assert sim.poll_returns() == 0
    assert sim.refusals == [
        Refusal("CReturnDownload", "", ["ApiVersion must be one of 1000, not 10000"])
    ]
    assert sim.state.refused == {
        "CReturnDownload document": "ApiVersion must be one of 1000, not 10000"
    }
    assert sim.tokens["returns"] == FIRST_CONTACT  # not advanced: asked for again
    assert len(hub.requests) == 2  # the config, one page: no polling in a loop
    hub.api_version = 1000
    assert sim.poll_returns() == 1 and sim.state.refused == {}


def test_a_return_without_a_unit_price_is_priced_from_its_source_order():
    # UnitPrice is optional on a CustomerReturnItem: Khaos prices from the original order.
    first, second = _return("AREF1"), _return("AREF2")
    for record in (first, second):
        del record["ReturnedItems"][0]["UnitPrice"]
    second["ReturnedItems"][0]["SourceReference"]["SourceOrder"] = {"SOrderID": "2076"}
    sim = _simulator(FakeHub([first, second]))
    sim.state.order_prices[("2075", "B0714PRW7R")] = Decimal("4.00")
    sim.load_config()
    assert sim.poll_returns() == 2
    # 2075's price is known; 2076's is not, so the stock item's sell price stands in.
    assert [note.gross for note in sim.state.credit_notes] == [Decimal("12.00"), Decimal("36.0")]


def test_the_simulator_notes_fields_khaos_ignores():
    record = _return("AREF1")
    item = record["ReturnedItems"][0]
    item[EXAMPLES_KEY] = item.pop("SourceReference")
    sim = _simulator(FakeHub([record]))
    sim.load_config()
    assert sim.poll_returns() == 1  # imported: an unknown field is no error
    assert sim.ignored == {
        "AREF1": [
            "Returns[0].ReturnedItems[0].SourceReturnReference is not a field of "
            "CustomerReturnItem: Khaos ignores it (this Khaos reads the order link as "
            "SourceReference)"
        ]
    }


def test_a_configuration_file_khaos_cannot_use_is_refused():
    def handler(request):
        return httpx.Response(200, json={"OrderDownload": {"URL": "http://hub.test/o"}})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sim = KhaosSimulator("http://hub.test", "hf", "khaos", "pw", _state(), client=client)
    with pytest.raises(ConfigRefused, match="wrapped inside an EndpointConfig"):
        sim.load_config()
    assert sim.refusals[0].endpoint == "config"
