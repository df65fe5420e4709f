"""What Khaos Control Cloud accepts, from the vendor's published property tables.

Written from the vendor's README (khaoscontrol/kcc-web-services, February 2025; a copy
in ``tests/fixtures/realworld/khaos/kcc-README.md``), never from the hub's own document
builder or reader: the Khaos simulator uses it to refuse what a real Khaos refuses.

The tables are data, in ``TABLES`` below, one section per type as the README has them:
``name | type | Required | max length | XML item element | rule``. Types are the README's:
String, Integer, Double, Boolean, DateTime, DataItem, MappingType, Price, an object type,
``Array[T]`` and ``OneOf[T]``. ``VALUES`` holds the lists of allowed values a rule names,
and ``OBJECT_RULES`` the rules the README states in words (a Contact needs a Forename or
a Surname; a payment is exactly one kind; a SourceOrder names exactly one reference).

What counts as a problem (a refused document), per the README's "Types & Objects":
- a Required field that is missing (or, for a String, blank);
- a null anywhere ("A null value will cause errors");
- a value not of its type, a String over its Max Length, a value outside its listed
  values, a DataItem that is not an object of string ID / Code / Name, a Price with
  neither Net nor Gross, a DateTime that is not RFC 3339 without an offset;
- ApiVersion other than 1000; a document that is not JSON / well-formed XML.

Fields the tables do not list are not errors (the README never says they are, and
Khaos's own documents carry fields its tables omit): they are reported apart, in
``Result.ignored``, because Khaos ignores them, and a field Khaos ignores may be a
misspelt one (``SourceReturnReference`` where this installation reads
``SourceReference``: the order link is then lost without a word).

XML is read into the same structure, guided by the tables: a DataItem is attributes on
its element (Khaos's own XML also writes the Name as the element's text:
``<BankAccount>Account Name</BankAccount>``), a list of objects is a container with one
element per item (``<ReturnedItems><ReturnedItem>``), a list of strings is the element
repeated (``<MatchAddressOn>``) or a container, an OrderItemDescription is
``<StockDescription Source="Explicit">text</StockDescription>``, a number or a boolean
is its text (``True``/``False`` in any case, as the vendor's examples write them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

API_VERSION = 1000
SOURCE_REFERENCE_KEYS = ("SourceReference", "SourceReturnReference")

# --- the vendor's property tables ------------------------------------------------------

# name | type | Required | Max Length | XML item element (lists of objects) | rule
# rule: "one of <VALUES key>", "format <regex>", "not Code" (a DataItem that cannot match
# by Code), "not blank" (may be left out, never sent blank).
TABLES = r"""
## CustomerReturnImport (Customer Return Download: XML root, JSON properties)
Returns             | Array[CustomerReturn]       | Yes |    | CustomerReturn |
ApiVersion          | Integer                     | Yes |    |                | one of ApiVersion
Config              | CustomerReturnImportConfig  |     |    |                |

## SalesOrderImport (Order Download: XML root, JSON properties)
Orders              | Array[SalesOrder]           | Yes |    | SalesOrder     |
ApiVersion          | Integer                     | Yes |    |                | one of ApiVersion
Config              | OrderImportConfig           |     |    |                |

## EndpointConfig (Config File: Structure)
OrderDownload       | DownloadEndpoint            | Yes |    |                |
OrderStatusUpload   | Endpoint                    |     |    |                |
StockStatusUpload   | Endpoint                    | Yes |    |                |
StockUpload         | Endpoint                    | Yes |    |                |
CReturnDownload     | DownloadEndpoint            |     |    |                |
ProvidedStock       | Endpoint                    |     |    |                |
PriceListUpload     | Endpoint                    |     |    |                |

## DownloadEndpoint (sub-properties are required when the endpoint is specified)
URL                 | String                      | Yes |    |                |
Frequency           | Integer                     | Yes |    |                |
Format              | String                      | Yes |    |                | one of Format

## Endpoint
URL                 | String                      | Yes |    |                |
Format              | String                      | Yes |    |                | one of Format

## CustomerReturn
AssociatedRef       | String                      | Yes |    |                |
CreatedDate         | DateTime                    | Yes |    |                |
URN                 | String                      | Yes |    |                |
InvoiceAddress      | Address                     | Yes |    |                |
InvoiceContact      | Contact                     | Yes |    |                |
DeliveryAddress     | Address                     |     |    |                |
DeliveryContact     | Contact                     |     |    |                |
ReturnedItems       | Array[CustomerReturnItem]   |     |    | ReturnedItem   |
ExchangeItems       | Array[CustomerExchangeItem] |     |    | ExchangeItem   |
Brand               | DataItem                    |     |    |                |
SalesSource         | DataItem                    |     |    |                |
Notes               | String                      |     |    |                |
ProcessReturn       | Boolean                     |     |    |                |

## CustomerReturnItem
SKU                 | String                      | Yes |    |                |
Mapping             | Array[ItemMapping]          |     |    | ItemMapping    |
Quantity            | Double                      | Yes |    |                |
ReturnReason        | DataItem                    | Yes |    |                |
ExtendedDescription | Array[String]               |     |    |                |
SourceReference     | SourceReturnReference       |     |    |                |
UnitPrice           | Price                       |     |    |                |

## CustomerExchangeItem
SKU                 | String                      | Yes |    |                |
Mapping             | Array[ItemMapping]          |     |    | ItemMapping    |
Quantity            | Double                      | Yes |    |                |
ExtendedDescription | Array[String]               |     |    |                |
UnitPrice           | Price                       |     |    |                |

## SourceReturnReference
SourceOrder         | OneOf[SourceOrder]          | Yes |    |                |

## SourceOrder
AssociatedRef       | String                      |     |    |                |
SOrderID            | String                      |     |    |                |
SOrderCode          | String                      |     |    |                |
SOrderItemID        | String                      |     |    |                |

## CustomerReturnImportConfig
MatchAddressOn      | Array[String]               | Yes |    |                | one of ReturnMatch
MatchContactOn      | Array[String]               | Yes |    |                | one of ReturnMatch

## OrderImportConfig
MatchCompanyOn      | Array[String]               | Yes |    |                | one of CompanyMatch
MatchAddressOn      | Array[String]               | Yes |    |                | one of AddressMatch
MatchContactOn      | Array[String]               | Yes |    |                | one of ContactMatch
DiscontinuedItems   | String                      |     |    |                | one of ItemError
RunToZeroErrorItems | String                      |     |    |                | one of ItemError
ImportAsUnconfirmed | Boolean                     |     |    |                |

## SalesOrder
Customer            | Customer                    | Yes |    |                |
InvoiceAddress      | Address                     | Yes |    |                |
InvoiceContact      | Contact                     | Yes |    |                |
DeliveryAddress     | Address                     |     |    |                |
DeliveryContact     | Contact                     |     |    |                |
Header              | OrderHeader                 | Yes |    |                |
Items               | Array[OrderItem]            | Yes |    | OrderItem      |
Payments            | Array[OrderPayment]         |     |    | OrderPayment   |

## Customer
CreateNew           | String                      | Yes |    |                | one of CreateNew
CompanyClass        | DataItem                    | Yes |    |                |
Currency            | DataItem                    | Yes |    |                |
OtherRef            | String                      |     | 50 |                |
WebUser             | String                      |     | 50 |                |
CompanyType         | DataItem                    |     |    |                |
CompanyName         | String                      |     | 50 |                |
WebsiteUrl          | String                      |     | 50 |                |
SourceCode          | DataItem                    |     |    |                |
MailingStatus       | DataItem                    |     |    |                |
TaxReference        | String                      |     | 20 |                |
URN                 | String                      |     |    |                | not blank
TaxExempt           | Boolean                     |     |    |                |

## Address
Line1               | String                      | Yes | 35 |                |
Line2               | String                      |     | 35 |                |
Line3               | String                      |     | 35 |                |
Town                | String                      | Yes | 35 |                |
County              | String                      |     | 35 |                |
Postcode            | String                      |     | 10 |                |
Country             | DataItem                    | Yes |    |                |
Email               | String                      |     | 100 |               |
Telephone           | String                      |     | 25 |                |
Fax                 | String                      |     | 25 |                |
Organisation        | String                      |     | 50 |                |
ShowCompanyName     | Boolean                     |     |    |                |

## Contact
Title               | String                      |     | 20 |                |
Forename            | String                      |     | 50 |                |
Surname             | String                      |     | 50 |                |
Email               | String                      |     | 100 |               |
Mobile              | String                      |     | 30 |                |
DateOfBirth         | DateTime                    |     |    |                |
OptInNewsletter     | Boolean                     |     |    |                |

## OrderHeader
AssociatedRef       | String                      | Yes |    |                |
OrderDate           | DateTime                    | Yes |    |                |
Site                | DataItem                    | Yes |    |                |
Agent               | DataItem                    |     |    |                |
Courier             | DataItem                    |     |    |                |
CourierGroup        | DataItem                    |     |    |                |
Keycode             | DataItem                    |     |    |                |
SalesSource         | DataItem                    | Yes |    |                | not Code
Client              | DataItem                    |     |    |                |
Website             | DataItem                    |     |    |                |
Brand               | DataItem                    |     |    |                | not Code
InvoicePriority     | DataItem                    |     |    |                |
DiscountCodes       | Array[DataItem]             | Yes |    | *              |
OrderNote           | String                      |     |    |                |
InvoiceNote         | String                      |     |    |                |
DeliveryDate        | LockableDate                |     |    |                |
RequiredDate        | DateTime                    |     |    |                |
PONumber            | String                      |     |    |                |
DeliveryCharge      | Price                       |     |    |                |
DeliveryTaxAmount   | Double                      |     |    |                |
RemainderOnAccount  | Boolean                     |     |    |                |
CalcMethod          | Integer                     |     |    |                | one of CalcMethod
ValueDiscount       | Double                      |     |    |                |
SOrderCode          | String                      |     |    |                |
SOrderType          | DataItem                    |     |    |                |
GrossTotal          | Double                      |     |    |                |
CustomData          | String                      |     |    |                |
Currency            | DataItem                    |     |    |                |
VATReliefQualified  | Boolean                     |     |    |                |
IOSSNumber          | String                      |     |    |                |

## LockableDate
Date                | DateTime                    | Yes |    |                |
Locked              | Boolean                     |     |    |                |

## OrderItem
SKU                 | String                      | Yes |    |                |
Mapping             | MappingType                 | Yes |    |                |
Quantity            | Double                      | Yes |    |                |
StockDescription    | OrderItemDescription        |     |    |                |
ExtendedDescription | Array[String]               | Yes |    |                |
FreeItemReason      | DataItem                    |     |    |                |
ImportRef           | String                      |     |    |                |
WebItemRef          | String                      |     |    |                |
Site                | DataItem                    |     |    |                |
PackLink            | String                      |     |    |                | format \d{3}\.\d{3}
UnitPrice           | Price                       | Yes |    |                |
PercentDiscount     | Double                      |     |    |                |
ValueDiscount       | Double                      |     |    |                |
MappingItem         | String                      |     |    |                |
AlternateMapping    | Array[ItemMapping]          |     |    | ItemMapping    |

## OrderItemDescription
Source              | String                      | Yes |    |                | one of Description
Parameter           | String                      | Yes |    |                |

## ItemMapping
Mapping             | MappingType                 | Yes |    |                |
MappingItem         | String                      |     |    |                |

## OrderPayment (exactly one of Cash, Cheque, Card, Voucher, BACS: OBJECT_RULES)
Amount              | Double                      | Yes |    |                |
Cash                | CashPayment                 |     |    |                |
Cheque              | ChequePayment               |     |    |                |
Card                | CardPayment                 |     |    |                |
Voucher             | VoucherPayment              |     |    |                |
BACS                | BACSPayment                 |     |    |                |
BankAccount         | DataItem                    |     |    |                |
CreditScore         | String                      |     |    |                |
SecurityComment     | String                      |     |    |                |

## CashPayment
Reference           | String                      |     |    |                |

## ChequePayment
Reference           | String                      |     |    |                |

## VoucherPayment
Reference           | String                      | Yes |    |                |

## BACSPayment
Reference           | String                      |     |    |                |

## CardPayment
CardType            | String                      | Yes | 25 |                |
IsPreauth           | Boolean                     | Yes |    |                |
CardNumber          | String                      |     |    |                |
CardStart           | String                      |     |    |                | format \d{4}
CardExpire          | String                      |     |    |                | format \d{4}
CardCV2             | String                      |     |    |                |
CardHolder          | String                      |     |    |                |
CardIssue           | String                      |     |    |                |
AuthCode            | String                      |     |    |                |
TransactionID       | String                      |     |    |                |
PreauthRef          | String                      |     |    |                |
AAVCV2Results       | String                      |     |    |                |
SecurityRef         | String                      |     |    |                |
SecurityToken       | String                      |     |    |                |
Last4Digits         | String                      |     |    |                |
AccountNumber       | Integer                     |     |    |                |
FraudData           | String                      |     |    |                |
Timestamp           | DateTime                    |     |    |                |

## Price (Net or Gross: OBJECT_RULES)
Net                 | Double                      |     |    |                |
Gross               | Double                      |     |    |                |
"""

VALUES: dict[str, tuple[str, ...]] = {
    "ApiVersion": (str(API_VERSION),),
    "Format": ("XML", "JSON"),
    "CreateNew": ("IfNoMatch", "Always", "Never"),
    "MappingType": ("StockCode", "OtherRef", "Barcode", "WebCode", "Automatic"),
    "Description": ("Explicit", "StockDesc", "WebCategories"),
    "CalcMethod": ("0", "1", "2"),
    "ItemError": ("Abort", "ImportAndHold", "Skip"),
    "CompanyMatch": (
        "Address1",
        "Address2",
        "Address3",
        "Town",
        "Postcode",
        "Surname",
        "Forename",
        "Telephone",
        "Email",
        "CompanyCode",
        "UseDeliveryAddress",
    ),
    "AddressMatch": ("Address1", "Address2", "Address3", "Town", "Postcode"),
    "ContactMatch": ("Surname", "Forename", "Telephone", "Email"),
    "ReturnMatch": (
        "CompanyName",
        "Address1",
        "Address2",
        "Address3",
        "Town",
        "Postcode",
        "Surname",
        "Forename",
        "Telephone",
        "Email",
        "CompanyCode",
        "UseDeliveryAddress",
    ),
}

# Rules the README gives in words: (how many, of which fields, a present one must not be blank).
OBJECT_RULES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    # Contact: "Either forname or surname must be filled in".
    "Contact": ("at least one", ("Forename", "Surname"), True),
    # Price: Net or Gross ("set either the Net or Gross values").
    "Price": ("at least one", ("Net", "Gross"), False),
    # OrderPayment: "Cash or Cheque or Card or Voucher or BACS", Required.
    "OrderPayment": ("exactly one", ("Cash", "Cheque", "Card", "Voucher", "BACS"), False),
    # OneOf[SourceOrder]: "the remaining properties ... cannot be present".
    "SourceOrder": (
        "exactly one",
        ("AssociatedRef", "SOrderID", "SOrderCode", "SOrderItemID"),
        True,
    ),
}

SCALARS = frozenset({"String", "Integer", "Double", "Boolean", "DateTime", "MappingType"})
DATA_ITEM_KEYS = ("ID", "Code", "Name")

# Each download: the XML root, the list it carries and the name of its items.
DOWNLOADS = {
    "CReturnDownload": ("CustomerReturnImport", "Returns"),
    "OrderDownload": ("SalesOrderImport", "Orders"),
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    max_length: int | None = None
    array: bool = False
    one_of: bool = False
    xml_item: str | None = None  # "*": any element name
    values: tuple[str, ...] = ()
    pattern: re.Pattern | None = None
    not_keys: tuple[str, ...] = ()
    not_blank: bool = False


def _parse_field(line: str) -> Field:
    name, kind, required, length, xml_item, rule = (part.strip() for part in line.split("|"))
    array = kind.startswith("Array[")
    one_of = kind.startswith("OneOf[")
    base = kind[6:-1] if array or one_of else kind
    options: dict[str, Any] = {}
    if rule.startswith("one of "):
        options["values"] = VALUES[rule[7:]]
    elif rule.startswith("format "):
        options["pattern"] = re.compile(rule[7:])
    elif rule.startswith("not ") and rule != "not blank":
        options["not_keys"] = tuple(rule[4:].split())
    elif rule == "not blank":
        options["not_blank"] = True
    elif rule:
        raise ValueError(f"unknown rule {rule!r} in the Khaos tables")
    if base == "MappingType":
        options["values"] = VALUES["MappingType"]
    if required not in ("", "Yes"):
        raise ValueError(f"Required is Yes or empty, not {required!r}")
    return Field(
        name,
        base,
        required == "Yes",
        int(length) if length else None,
        array,
        one_of,
        xml_item or None,
        **options,
    )


def _parse_tables(text: str) -> dict[str, dict[str, Field]]:
    tables: dict[str, dict[str, Field]] = {}
    current: dict[str, Field] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("## "):
            current = tables.setdefault(line[3:].split()[0], {})
        elif line and current is not None:
            parsed = _parse_field(line)
            current[parsed.name] = parsed
    known = SCALARS | {"DataItem", *tables}
    for fields in tables.values():
        for item in fields.values():
            if item.type not in known:
                raise ValueError(f"the Khaos tables name an unknown type {item.type!r}")
    return tables


SCHEMA = _parse_tables(TABLES)


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str  # where, e.g. Returns[0].InvoiceAddress.Town ("" for the whole document)
    text: str  # the whole sentence, path included

    def __str__(self) -> str:
        return self.text

    def record(self, key: str) -> int | None:
        """The index of the record (Returns[i] / Orders[i]) this is about, if any."""
        match = re.match(rf"{key}\[(\d+)\]", self.path)
        return int(match.group(1)) if match else None


@dataclass
class Result:
    document: Any = None  # the document as read: JSON, or XML read into the same structure
    problems: list[Problem] = field(default_factory=list)  # Khaos refuses for any of these
    ignored: list[Problem] = field(default_factory=list)  # fields Khaos ignores

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def messages(self) -> list[str]:
        return [problem.text for problem in self.problems]


class _Context:
    def __init__(self, source_reference_key: str) -> None:
        if source_reference_key not in SOURCE_REFERENCE_KEYS:
            raise ValueError(f"source_reference_key is one of {SOURCE_REFERENCE_KEYS}")
        self.source_reference_key = source_reference_key
        self.problems: list[Problem] = []
        self.ignored: list[Problem] = []

    def problem(self, path: str, text: str) -> None:
        self.problems.append(Problem(path, text))

    def ignore(self, path: str, text: str) -> None:
        self.ignored.append(Problem(path, text))

    def fields(self, type_name: str) -> dict[str, Field]:
        fields = SCHEMA[type_name]
        if type_name == "CustomerReturnItem" and self.source_reference_key != "SourceReference":
            # The channel setting: this Khaos reads the order link under the examples' name.
            fields = dict(fields)
            link = fields.pop("SourceReference")
            fields[self.source_reference_key] = replace(link, name=self.source_reference_key)
        return fields


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --- reading JSON ----------------------------------------------------------------------


class _Object(dict):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.duplicates = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _read_json(body: bytes | str, ctx: _Context) -> Any:
    try:
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body
        return json.loads(
            text, parse_float=Decimal, parse_constant=_not_json, object_pairs_hook=_pairs
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        ctx.problem("", f"the document is not valid JSON: {exc}")
        return None


# --- reading XML, guided by the tables -------------------------------------------------

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")


class Repeated(list):
    """An element given more than once where the table has one value."""


def _text(element) -> str:
    return (element.text or "").strip()


def _is_nil(element) -> bool:
    return element.get(XSI_NIL, "").strip().lower() in ("true", "1")


def _generic(element) -> Any:
    """An element the tables do not describe, read as it looks."""
    children = list(element)
    if children:
        read: dict[str, Any] = {}
        for child in children:
            read.setdefault(child.tag, []).append(_generic(child))
        return {tag: values[0] if len(values) == 1 else values for tag, values in read.items()}
    if element.attrib:
        return dict(element.attrib)
    return _text(element)


def _xml_scalar(element, kind: str, path: str, ctx: _Context) -> Any:
    if list(element):
        return _generic(element)  # an object where a value belongs: the check says so
    for name in element.attrib:
        if name != XSI_NIL:
            ctx.ignore(f"{path}@{name}", f"{path} has an attribute {name!r}: Khaos ignores it")
    text = _text(element)
    if kind == "Integer" and INTEGER.fullmatch(text):
        return int(text)
    if kind == "Double" and NUMBER.fullmatch(text):
        return Decimal(text)
    if kind == "Boolean" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    return text  # a String or DateTime, or text that is not the type: the check says so


def _xml_data_item(element, path: str, ctx: _Context) -> Any:
    if list(element):
        ctx.problem(
            path,
            f"{path}: in XML a DataItem's ID, Code or Name are attributes "
            f'(<{element.tag} ID="6"/>), not child elements',
        )
        return _generic(element)
    item = {name: value for name, value in element.attrib.items() if name != XSI_NIL}
    text = _text(element)
    if text and "Name" not in item:
        item["Name"] = text  # Khaos's own XML: <Courier Code="24H" ID="76">Metapack 24Hr</Courier>
    return item


def _xml_description(element, path: str, ctx: _Context) -> Any:
    if list(element):
        ctx.problem(
            path,
            f"{path}: in XML an OrderItemDescription is "
            f'<{element.tag} Source="Explicit">description</{element.tag}>',
        )
        return _generic(element)
    item = dict(element.attrib)
    if _text(element):
        item["Parameter"] = _text(element)
    return item


def _xml_strings(elements: list, path: str) -> list:
    """Array[String]: the element repeated (<MatchAddressOn>), or one container."""
    if len(elements) == 1 and list(elements[0]):
        return [_generic(child) for child in elements[0]]
    if len(elements) == 1 and not _text(elements[0]) and not elements[0].attrib:
        return []  # <ExtendedDescription />
    return [_generic(element) for element in elements]


def _xml_list(element, item: Field, path: str, ctx: _Context) -> Any:
    children = list(element)
    if not children and _text(element):
        return _text(element)  # text where a list belongs: the check says so
    values = []
    for child in children:
        if item.xml_item not in (None, "*") and child.tag != item.xml_item:
            ctx.problem(
                path,
                f"{path}: <{child.tag}> is not a <{item.xml_item}> element; "
                f"Khaos reads only <{item.xml_item}> items here",
            )
            continue
        values.append(_xml_single(child, item, f"{path}[{len(values)}]", ctx))
    return values


def _xml_single(element, item: Field, path: str, ctx: _Context) -> Any:
    if _is_nil(element):
        return None
    if item.type in SCALARS:
        return _xml_scalar(element, item.type, path, ctx)
    if item.type == "DataItem":
        return _xml_data_item(element, path, ctx)
    if item.type == "OrderItemDescription":
        return _xml_description(element, path, ctx)
    return _xml_object(element, item.type, path, ctx)


def _xml_object(element, type_name: str, path: str, ctx: _Context) -> Any:
    children = list(element)
    if not children and _text(element):
        return _text(element)  # text where an object belongs: the check says so
    fields = ctx.fields(type_name)
    groups: dict[str, list] = {}
    for child in children:
        groups.setdefault(child.tag, []).append(child)
    read: dict[str, Any] = {}
    for tag, elements in groups.items():
        item = fields.get(tag)
        where = _join(path, tag)
        if item is None:
            read[tag] = _generic(elements[0])
        elif item.array and item.type in SCALARS:
            read[tag] = _xml_strings(elements, where)
        elif len(elements) > 1:
            read[tag] = Repeated(_generic(e) for e in elements)
        elif item.array:
            read[tag] = None if _is_nil(elements[0]) else _xml_list(elements[0], item, where, ctx)
        else:
            read[tag] = _xml_single(elements[0], item, where, ctx)
    return read


def _read_xml(body: bytes | str, root: str, ctx: _Context) -> Any:
    try:
        element = SafeET.fromstring(body, forbid_dtd=True)
    except ParseError as exc:
        ctx.problem("", f"the document is not well-formed XML: {exc}")
        return None
    except DefusedXmlException:
        ctx.problem("", "the document is XML Khaos does not read (it has a DTD or entities)")
        return None
    if element.tag != root:
        ctx.problem("", f"the XML root is <{element.tag}>; Khaos reads <{root}>")
        return None
    return _xml_object(element, root, "", ctx)


# --- the checks ------------------------------------------------------------------------

DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _article(name: str) -> str:
    return f"an {name}" if name[0] in "AEIOU" else f"a {name}"


def _check_value(value: Any, item: Field, path: str, ctx: _Context) -> None:
    if value is None:
        ctx.problem(path, f'{path} is null: a null value is an error (send "" or leave it out)')
    elif isinstance(value, Repeated):
        ctx.problem(path, f"{path} appears {len(value)} times; it is one value, not a list")
    elif item.array:
        if not isinstance(value, list):
            ctx.problem(path, f"{path} must be an array of {item.type}, not {_describe(value)}")
            return
        for index, element in enumerate(value):
            _check_single(element, item, f"{path}[{index}]", ctx)
    else:
        _check_single(value, item, path, ctx)


def _check_single(value: Any, item: Field, path: str, ctx: _Context) -> None:
    if value is None:
        ctx.problem(path, f'{path} is null: a null value is an error (send "" or leave it out)')
    elif item.type in SCALARS:
        _check_scalar(value, item, path, ctx)
    elif item.type == "DataItem":
        _check_data_item(value, item, path, ctx)
    else:
        _check_object(value, item.type, path, ctx)


def _check_scalar(value: Any, item: Field, path: str, ctx: _Context) -> None:
    kind = item.type
    if kind in ("String", "MappingType", "DateTime"):
        if not isinstance(value, str):
            ctx.problem(
                path,
                f"{path} must be a {'String' if kind != 'DateTime' else kind}, "
                f"not {_describe(value)}",
            )
            return
        if kind == "DateTime" and not _is_datetime(value):
            ctx.problem(
                path,
                f"{path} must be a DateTime like 2018-01-18T12:20:48 (RFC 3339 "
                f"without an offset), not {value!r}",
            )
            return
        if item.max_length is not None and len(value) > item.max_length:
            ctx.problem(path, f"{path} is {len(value)} characters, max {item.max_length}")
        if item.pattern is not None and value and not item.pattern.fullmatch(value):
            ctx.problem(path, f"{path} must match {item.pattern.pattern}, not {value!r}")
        if item.not_blank and not value.strip():
            ctx.problem(path, f"{path} must not be blank: leave the field out instead")
    elif kind == "Integer":
        if isinstance(value, bool) or not isinstance(value, int):
            ctx.problem(path, f"{path} must be an Integer, not {_describe(value)}")
            return
    elif kind == "Double":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            ctx.problem(path, f"{path} must be a number (Double), not {_describe(value)}")
            return
        if isinstance(value, float | Decimal) and not _finite(value):
            ctx.problem(path, f"{path} must be a finite number, not {value}")
            return
    elif kind == "Boolean" and not isinstance(value, bool):
        ctx.problem(path, f"{path} must be true or false, not {_describe(value)}")
        return
    if item.values and str(value) not in item.values:
        ctx.problem(path, f"{path} must be one of {', '.join(item.values)}, not {value!r}")


def _finite(value: float | Decimal) -> bool:
    try:
        return Decimal(value).is_finite()
    except (InvalidOperation, ValueError):
        return False


def _is_datetime(value: str) -> bool:
    if not DATETIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_data_item(value: Any, item: Field, path: str, ctx: _Context) -> None:
    allowed = [key for key in DATA_ITEM_KEYS if key not in item.not_keys]
    shape = f"an object with {', '.join(allowed[:-1])} or {allowed[-1]}"
    if not isinstance(value, dict):
        ctx.problem(path, f"{path} must be a DataItem ({shape}), not {_describe(value)}")
        return
    _duplicates(value, path, ctx)
    if not any(key in value for key in DATA_ITEM_KEYS):
        ctx.problem(path, f"{path} must be a DataItem ({shape}); it has none of them")
    for key, part in value.items():
        where = _join(path, key)
        if key not in DATA_ITEM_KEYS:
            ctx.problem(where, f"{where} is not part of a DataItem (ID, Code or Name only)")
        elif part is None:
            ctx.problem(
                where, f'{where} is null: a null value is an error (send "" or leave it out)'
            )
        elif not isinstance(part, str):
            ctx.problem(where, f"{where} must be string data, not {_describe(part)}")
        elif key in item.not_keys:
            ctx.problem(
                where, f"{where}: {path.rsplit('.', 1)[-1]} does not support matching by {key}"
            )


def _duplicates(value: dict, path: str, ctx: _Context) -> None:
    for key in getattr(value, "duplicates", ()):
        where = _join(path, key)
        ctx.problem(where, f"{where} is given more than once in the same object")


def _check_object(value: Any, type_name: str, path: str, ctx: _Context) -> None:
    if not isinstance(value, dict):
        ctx.problem(path, f"{path} must be {_article(type_name)} object, not {_describe(value)}")
        return
    _duplicates(value, path, ctx)
    fields = ctx.fields(type_name)
    for name, item in fields.items():
        where = _join(path, name)
        if name not in value:
            if item.required:
                ctx.problem(where, f"{where} is Required")
            continue
        part = value[name]
        _check_value(part, item, where, ctx)
        blank = isinstance(part, str) and not part.strip()
        if item.required and item.type == "String" and not item.array and blank:
            ctx.problem(where, f"{where} is Required, and it is blank")
    for name in value:
        if name not in fields:
            where = _join(path, name)
            hint = ""
            if type_name == "CustomerReturnItem" and name in SOURCE_REFERENCE_KEYS:
                hint = f" (this Khaos reads the order link as {ctx.source_reference_key})"
            ctx.ignore(where, f"{where} is not a field of {type_name}: Khaos ignores it{hint}")
    if type_name in OBJECT_RULES:
        _check_rule(value, type_name, path, ctx)


def _check_rule(value: dict, type_name: str, path: str, ctx: _Context) -> None:
    how, names, filled = OBJECT_RULES[type_name]
    present = [name for name in names if name in value]
    where = path or type_name
    if how == "at least one":
        given = [n for n in present if not (filled and _blank(value[n]))]
        if not given:
            needed = " or ".join(names)
            ctx.problem(
                where, f"{where}: {needed} is Required" + (" (not blank)" if filled else "")
            )
    elif len(present) != 1:
        found = ", ".join(present) if present else "none"
        ctx.problem(where, f"{where}: exactly one of {', '.join(names)} (found: {found})")
    elif filled and _blank(value[present[0]]):
        ctx.problem(where, f"{where}: {present[0]} is blank, so it names nothing")


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


# --- entry points ----------------------------------------------------------------------


def _read(body: Any, fmt: str, root: str, ctx: _Context) -> Any:
    if isinstance(body, dict):
        return body  # already read, as JSON is
    if fmt.upper() == "XML":
        return _read_xml(body, root, ctx)
    return _read_json(body, ctx)


def check(
    body: bytes | str | dict,
    type_name: str,
    *,
    fmt: str = "JSON",
    source_reference_key: str = "SourceReference",
) -> Result:
    """A whole document of one of the tables' types (e.g. ``CustomerReturnImport``)."""
    ctx = _Context(source_reference_key)
    document = _read(body, fmt, type_name, ctx)
    if document is not None:
        if isinstance(document, dict):
            _check_object(document, type_name, "", ctx)
        else:
            ctx.problem("", f"the document must be an object, not {_describe(document)}")
    return Result(document, ctx.problems, ctx.ignored)


def check_download(
    body: bytes | str | dict,
    endpoint: str,
    *,
    fmt: str = "JSON",
    source_reference_key: str = "SourceReference",
) -> Result:
    """A CReturnDownload or OrderDownload document, as Khaos reads it."""
    root, _ = DOWNLOADS[endpoint]
    return check(body, root, fmt=fmt, source_reference_key=source_reference_key)


def check_config(body: bytes | str | dict, *, fmt: str = "JSON") -> Result:
    """The configuration file: its endpoints wrapped in an EndpointConfig property (JSON)
    or under an EndpointConfig root (XML)."""
    if fmt.upper() == "XML":
        return check(body, "EndpointConfig", fmt="XML")
    ctx = _Context("SourceReference")
    document = _read(body, "JSON", "EndpointConfig", ctx)
    wrapped = isinstance(document, dict) and "EndpointConfig" in document
    if document is not None and not wrapped:
        ctx.problem("", "the configuration must be wrapped inside an EndpointConfig property")
    if ctx.problems:
        return Result(document, ctx.problems, ctx.ignored)
    return check(document["EndpointConfig"], "EndpointConfig")


def records(result: Result, endpoint: str) -> list:
    """The returns or orders of a download document, as read."""
    _, key = DOWNLOADS[endpoint]
    document = result.document if isinstance(result.document, dict) else {}
    found = document.get(key)
    return found if isinstance(found, list) else []
