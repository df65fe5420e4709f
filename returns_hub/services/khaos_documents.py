"""Khaos CustomerReturn and SalesOrder documents, exactly as the channel serves them.

Field names and shapes follow the vendor's property tables for the Khaos Control
Cloud Web Services channel (``kcc-web-services`` README): no nulls (a missing value
is left out), DateTime without offset, DataItem as ``{"ID": "3"}``, Price as
``{"Gross": 29.99}``, text without control characters and within the tables' Max
Length (``LIMITS``). Every field the tables mark Required is present, or the document
is not made at all (``IncompleteDocument``): the engine holds such a return with
``incomplete_address`` before it ever gets here.

The invoice address and contact come from the platform, else from the customer
mapping row (``invoice_party``): an address is taken whole from one source, never
pieced together from two.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from returns_hub.choices import SourceReferenceKey
from returns_hub.models import (
    CustomerMapping,
    ExchangeRequest,
    KhaosChannel,
    KhaosProduct,
    Return,
)
from returns_hub.models.mappings import normalise_email
from returns_hub.money import to_pennies

# The Max Length column of the vendor's property tables, every entry of it, by object.
# A field not listed has no limit in the tables (Notes, OrderNote, CustomData, ImportRef,
# SKU, URN). One entry is ours, not the vendor's: an AssociatedRef is at most 50
# characters by the channel contract (INTERFACE.md), and a source order's is the web
# order's AssociatedRef in Khaos.
LIMITS: dict[str, dict[str, int]] = {
    "Customer": {
        "OtherRef": 50,
        "WebUser": 50,
        "CompanyName": 50,
        "WebsiteUrl": 50,
        "TaxReference": 20,
    },
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
    "CardPayment": {"CardType": 25},
    "SourceOrder": {"AssociatedRef": 50},
}
# An email cut short is someone else's address: one too long is left out (it is optional).
WHOLE_OR_NOTHING = frozenset({"Email"})

# What the tables mark Required in the parts the hub fills; "A|B" is the Contact rule
# ("Either forename or surname must be filled in").
REQUIRED: dict[str, tuple[str, ...]] = {
    "CustomerReturn": (
        "AssociatedRef",
        "CreatedDate",
        "URN",
        "InvoiceAddress",
        "InvoiceContact",
    ),
    "CustomerReturnItem": ("SKU", "Quantity", "ReturnReason"),
    "SalesOrder": ("Customer", "InvoiceAddress", "InvoiceContact", "Header", "Items"),
    "Customer": ("CreateNew", "CompanyClass", "Currency"),
    "OrderHeader": ("AssociatedRef", "OrderDate", "Site", "SalesSource", "DiscountCodes"),
    "OrderItem": ("SKU", "Mapping", "Quantity", "ExtendedDescription", "UnitPrice"),
    "Address": ("Line1", "Town", "Country"),
    "Contact": ("Forename|Surname",),
}

# The parts of an invoice Khaos requires, as a person reads them in an exception.
PART_NAMES = {
    "Line1": "no address line 1",
    "Town": "no town",
    "Country": "no country",
    "Name": "no surname or forename",
}


class IncompleteDocument(ValueError):
    """A document would lack a field Khaos requires: it is never made, never served."""


def data_item(value: str) -> dict:
    """A Khaos DataItem: an ID when the value is one, else a name."""
    return {"ID": value} if value.isdigit() else {"Name": value}


def khaos_datetime(value: datetime) -> str:
    """RFC 3339 without an offset, in the hub's local time (Khaos has no zone field)."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")


# Control characters (tabs and line breaks too), lone surrogates, and the two
# non-characters XML 1.0 cannot carry: no Khaos field holds one.
CONTROL = re.compile(r" *[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+ *")


def clean_text(value: object) -> str:
    """Text from a platform as it may enter a Khaos document: each run of control
    characters one space, no space at either end; text without any is unchanged."""
    return CONTROL.sub(" ", str(value or "")).strip()


def _cut(text: str, limit: int) -> str:
    # Counted in UTF-16 units as well as characters, so a reader counting either
    # way finds it within the limit; cut on a character boundary, no trailing space.
    text = text[:limit]
    while len(text.encode("utf-16-le")) > 2 * limit:
        text = text[:-1]
    return text.rstrip()


def fit(obj: str, name: str, value: object) -> str:
    """``value`` as ``obj.name`` may carry it: clean, within the vendor's Max Length."""
    text = clean_text(value)
    limit = LIMITS.get(obj, {}).get(name)
    if limit is None:
        return text
    if name in WHOLE_OR_NOTHING:
        return text if _cut(text, limit) == text else ""
    return _cut(text, limit)


def _fitted(obj: str, fields: dict[str, object]) -> dict[str, str]:
    """The fields that have a value once fitted; empty ones are left out, never null."""
    doc = {key: fit(obj, key, value) for key, value in fields.items()}
    return {key: value for key, value in doc.items() if value}


def country(value: object) -> dict:
    """Country as a DataItem: an ISO 3166 code (``GB``) by Code, anything else by Name.
    Empty when there is none: Khaos requires it, and the hub never guesses one."""
    text = clean_text(value)
    if len(text) == 2 and text.isascii() and text.isalpha():
        code = text.upper()
        return {"Code": "GB" if code == "UK" else code}  # UK: ISO's reserved alias of GB
    return {"Name": text} if text else {}


TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})


def split_name(name: object) -> tuple[str, str, str]:
    """(Title, Forename, Surname): a leading title (Mr, Mrs, Dr, …), the first word, then
    the rest; a single word is a surname (the contact Khaos matches on, MatchContactOn)."""
    words = clean_text(name).split()
    title = ""
    if len(words) > 1 and words[0].lower().rstrip(".") in TITLES:
        title, words = words[0], words[1:]
    if len(words) < 2:
        return title, "", " ".join(words)
    return title, words[0], " ".join(words[1:])


# --- the invoice party: address and contact ----------------------------------------


@dataclass(frozen=True)
class InvoiceParty:
    """The invoice address and contact of a return, and what Khaos would miss."""

    address: dict = field(default_factory=dict)
    contact: dict = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # keys of PART_NAMES; empty: complete
    address_from: str = ""  # "platform" or "customer row"
    name_from: str = ""
    row: CustomerMapping | None = None
    row_missing: tuple[str, ...] = ()  # what the customer row lacks, when it was needed

    @property
    def complete(self) -> bool:
        return not self.missing


def describe_missing(parts) -> str:
    """("Town", "Name") → "no town and no surname or forename"."""
    names = [PART_NAMES[part] for part in parts]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def platform_address(ret: Return) -> dict:
    """The platform's address (the hub's shape) as a Khaos Address; empty parts left out."""
    source = ret.address if isinstance(ret.address, dict) else {}
    doc = _fitted(
        "Address",
        {
            "Line1": source.get("line1"),
            "Line2": source.get("line2"),
            "Line3": source.get("line3"),
            "Town": source.get("town"),
            "County": source.get("county"),
            "Postcode": source.get("postcode"),
            "Telephone": source.get("phone"),
        },
    )
    found = country(source.get("country_code"))
    if found:
        doc["Country"] = found
    return doc


def row_address(row: CustomerMapping) -> dict:
    """A customer mapping row's address as a Khaos Address."""
    doc = _fitted("Address", {"Line1": row.line1, "Town": row.town, "Postcode": row.postcode})
    found = country(row.country)
    if found:
        doc["Country"] = found
    return doc


def contact(name: object, email: object) -> dict:
    """A Khaos Contact from a whole name and an email; empty parts left out."""
    title, forename, surname = split_name(name)
    fields = {"Title": title, "Forename": forename, "Surname": surname, "Email": email}
    return _fitted("Contact", fields)


def _address_gaps(doc: dict) -> tuple[str, ...]:
    return tuple(part for part in REQUIRED["Address"] if not doc.get(part))


def customer_row(ret: Return) -> CustomerMapping | None:
    email = normalise_email(ret.customer_email)
    return CustomerMapping.objects.filter(email=email).first() if email else None


LOOK_UP = object()  # invoice_party's row: not looked up yet


def invoice_party(ret: Return, row: CustomerMapping | object | None = LOOK_UP) -> InvoiceParty:
    """The platform's address and name, else the customer row's; each taken whole.

    ``row`` is the customer mapping row when the caller has looked it up (None: there
    is none); left out, it is looked up only if the platform's parts are not enough.
    """
    address = platform_address(ret)
    _, forename, surname = split_name(ret.customer_name)
    address_from = "platform" if not _address_gaps(address) else ""
    name_from = "platform" if forename or surname else ""
    if address_from and name_from:
        return InvoiceParty(
            address, contact(ret.customer_name, ret.customer_email), (), "platform", "platform"
        )
    if row is LOOK_UP:
        row = customer_row(ret)
    name = ret.customer_name if name_from else ""
    row_missing: list[str] = []
    if row is not None:
        from_row = row_address(row)
        if not address_from and not _address_gaps(from_row):
            address, address_from = from_row, "customer row"
        elif not address_from:
            row_missing += _address_gaps(from_row)
        if not name_from and any(split_name(row.name)[1:]):
            name, name_from = row.name, "customer row"
        elif not name_from:
            row_missing.append("Name")
    missing: list[str] = []
    if not address_from:
        platform_gaps = _address_gaps(platform_address(ret))
        # What neither source has; if each has what the other lacks, the row's gaps
        # (an address is never pieced together from two sources).
        both = [p for p in platform_gaps if row is None or p in row_missing]
        missing += both or [p for p in row_missing if p != "Name"]
    if not name_from:
        missing.append("Name")
    return InvoiceParty(
        address=address,
        contact=contact(name, ret.customer_email),
        missing=tuple(missing),
        address_from=address_from,
        name_from=name_from,
        row=row,
        row_missing=tuple(row_missing),
    )


def _party(ret: Return, party: InvoiceParty | None) -> InvoiceParty:
    party = party if party is not None else invoice_party(ret)
    if party.missing:
        raise IncompleteDocument(
            f"{ret.associated_ref}: {describe_missing(party.missing)} for the invoice"
        )
    return party


def missing_required(document: dict, kind: str) -> list[str]:
    """Paths of the Required fields ``document`` (a CustomerReturn or SalesOrder) lacks."""
    gaps: list[str] = []

    def check(obj: dict, table: str, path: str) -> None:
        for name in REQUIRED[table]:
            options = name.split("|")
            if not any(obj.get(o) not in (None, "", {}) for o in options):
                gaps.append(f"{path}{name.replace('|', ' or ')}")

    check(document, kind, "")
    for part in ("InvoiceAddress", "DeliveryAddress"):
        if part in document:
            check(document[part], "Address", f"{part}.")
    for part in ("InvoiceContact", "DeliveryContact"):
        if part in document:
            check(document[part], "Contact", f"{part}.")
    if kind == "CustomerReturn":
        for n, item in enumerate(document.get("ReturnedItems", [])):
            check(item, "CustomerReturnItem", f"ReturnedItems[{n}].")
    else:
        check(document.get("Customer", {}), "Customer", "Customer.")
        check(document.get("Header", {}), "OrderHeader", "Header.")
        for n, item in enumerate(document.get("Items", [])):
            check(item, "OrderItem", f"Items[{n}].")
    return gaps


def _complete(document: dict, kind: str, ref: str) -> dict:
    gaps = missing_required(document, kind)
    if gaps:
        raise IncompleteDocument(f"{ref}: Khaos requires {', '.join(gaps)}")
    return document


# --- CustomerReturn ------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLine:
    """One resolved unit, ready to be summed into a ReturnedItem."""

    stock_code: str
    reason_id: int
    unit_price: Decimal | None  # None: the platform gave no price; Khaos prices the line
    source_order: str


def returned_items(
    lines: list[ReturnLine], *, source_key: str = SourceReferenceKey.TABLE
) -> list[dict]:
    """Lines of the same Stock Code, reason, price and order summed into one item.

    A line without a price is never summed with a priced one: its item carries no
    ``UnitPrice``, so Khaos prices it from the source order."""
    grouped: OrderedDict[ReturnLine, int] = OrderedDict()
    for line in lines:
        price = None if line.unit_price is None else to_pennies(line.unit_price)
        key = ReturnLine(line.stock_code, line.reason_id, price, line.source_order)
        grouped[key] = grouped.get(key, 0) + 1
    items = []
    for line, quantity in grouped.items():
        item: dict = {
            "SKU": line.stock_code,
            "Mapping": [{"Mapping": "StockCode"}],
            "Quantity": quantity,
            "ReturnReason": {"ID": str(line.reason_id)},
        }
        if line.unit_price is not None:
            item["UnitPrice"] = {"Gross": line.unit_price}
        item["ExtendedDescription"] = []
        order = fit("SourceOrder", "AssociatedRef", line.source_order)
        if order:
            item[str(source_key)] = {"SourceOrder": {"AssociatedRef": order}}
        items.append(item)
    return items


def customer_return(
    ret: Return,
    *,
    urn: str,
    lines: list[ReturnLine],
    process: bool,
    channel: KhaosChannel | None = None,
    party: InvoiceParty | None = None,
) -> dict:
    """The return's CustomerReturn. ``channel`` (default: the connection's) decides the
    order link's key; ``party`` (default: looked up) its invoice address and contact."""
    channel = channel if channel is not None else ret.connection.khaos_channel
    source_key = channel.source_reference_key if channel is not None else SourceReferenceKey.TABLE
    party = _party(ret, party)
    created = ret.platform_created_at or ret.created_at
    document = {
        "AssociatedRef": ret.associated_ref,
        "CreatedDate": khaos_datetime(created),
        "URN": clean_text(urn),
        "InvoiceAddress": party.address,
        "InvoiceContact": party.contact,
        "ReturnedItems": returned_items(lines, source_key=source_key),
        # Exchanges go out as their own zero-value sales orders, never here,
        # so nothing ships twice.
        "ExchangeItems": [],
        "Notes": clean_text(f"{ret.connection.spec.label} return {ret.external_id}"),
        "ProcessReturn": process,
    }
    return _complete(document, "CustomerReturn", ret.associated_ref)


# --- SalesOrder (exchange orders) ----------------------------------------------------


def exchange_order(
    ret: Return,
    exchange: ExchangeRequest,
    *,
    ref: str,
    urn: str,
    product: KhaosProduct,
    channel: KhaosChannel,
    party: InvoiceParty | None = None,
) -> dict:
    """The zero-value SalesOrder that sends an exchange's replacement."""
    party = _party(ret, party)
    customer = {"CreateNew": "Never", "URN": clean_text(urn), "Currency": {"Code": ret.currency}}
    if channel.company_class_id:
        customer["CompanyClass"] = data_item(clean_text(channel.company_class_id))
    header = {
        "AssociatedRef": ref,
        "OrderDate": khaos_datetime(ret.platform_created_at or ret.created_at),
        "Site": {"ID": str(channel.site_id)},
    }
    if channel.sales_source:
        # Khaos matches a sales source by ID or Name, never by Code.
        header["SalesSource"] = {"Name": clean_text(channel.sales_source)}
    header |= {
        "DiscountCodes": [],
        "DeliveryCharge": {"Gross": Decimal("0")},
        "CustomData": ret.associated_ref,
        "OrderNote": clean_text(f"Exchange for return {ret.associated_ref}"),
    }
    document = {
        "Customer": customer,
        "InvoiceAddress": party.address,
        "InvoiceContact": party.contact,
        "DeliveryAddress": party.address,
        "DeliveryContact": party.contact,
        "Header": header,
        "Items": [
            {
                "SKU": product.stock_code,
                "Mapping": "StockCode",
                "Quantity": exchange.quantity,
                "UnitPrice": {"Gross": Decimal("0")},
                "ExtendedDescription": [],
                "ImportRef": clean_text(exchange.external_id),
            }
        ],
        "Payments": [],
    }
    return _complete(document, "SalesOrder", ref)
