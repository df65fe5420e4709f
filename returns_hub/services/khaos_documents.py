"""Khaos CustomerReturn and SalesOrder documents, exactly as the channel serves them.

Field names and shapes follow the Khaos Control Cloud Web Services channel:
no nulls (a missing value is left out), DateTime without offset, DataItem as
``{"ID": "3"}``, Price as ``{"Gross": 29.99}``, addresses within Khaos's lengths.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from returns_hub.models import ExchangeRequest, KhaosChannel, KhaosProduct, Return
from returns_hub.money import to_pennies

# Khaos's maximum lengths for Address and Contact fields.
ADDRESS_LIMITS = {"Line1": 35, "Line2": 35, "Line3": 35, "Town": 35, "County": 35,
                  "Postcode": 10, "Telephone": 25}  # fmt: skip
CONTACT_LIMITS = {"Forename": 50, "Surname": 50, "Email": 100, "Mobile": 30}


def data_item(value: str) -> dict:
    """A Khaos DataItem: an ID when the value is one, else a name."""
    return {"ID": value} if value.isdigit() else {"Name": value}


def khaos_datetime(value: datetime) -> str:
    """RFC 3339 without an offset, in the hub's local time (Khaos has no zone field)."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")


# Control characters (tabs and line breaks too) and lone surrogates: no Khaos field holds one.
CONTROL = re.compile(r" *[\x00-\x1f\x7f-\x9f\ud800-\udfff]+ *")


def clean_text(value: object) -> str:
    """Text from a platform as it may enter a Khaos document: each run of control
    characters one space, no space at either end; text without any is unchanged."""
    return CONTROL.sub(" ", str(value or "")).strip()


def _clip(value: str, limit: int) -> str:
    # Cut on a character boundary and drop a trailing space; never a null.
    return clean_text(value)[:limit].rstrip()


def address(ret: Return) -> dict:
    """The return's address (the hub's shape) as a Khaos Address; empty parts left out."""
    source = ret.address or {}
    fields = {
        "Line1": source.get("line1", ""),
        "Line2": source.get("line2", ""),
        "Line3": source.get("line3", ""),
        "Town": source.get("town", ""),
        "County": source.get("county", ""),
        "Postcode": source.get("postcode", ""),
        "Telephone": source.get("phone", ""),
    }
    doc = {key: _clip(value, ADDRESS_LIMITS[key]) for key, value in fields.items()}
    doc = {key: value for key, value in doc.items() if value}
    doc["Country"] = {"Code": (clean_text(source.get("country_code")) or "GB").upper()[:2]}
    return doc


def contact(ret: Return) -> dict:
    forename, _, surname = (ret.customer_name or "").strip().partition(" ")
    fields = {"Forename": forename, "Surname": surname.strip() or forename,
              "Email": ret.customer_email}  # fmt: skip
    doc = {key: _clip(value, CONTACT_LIMITS[key]) for key, value in fields.items()}
    return {key: value for key, value in doc.items() if value}


@dataclass(frozen=True)
class ReturnLine:
    """One resolved unit, ready to be summed into a ReturnedItem."""

    stock_code: str
    reason_id: int
    unit_price: Decimal
    source_order: str


def returned_items(lines: list[ReturnLine]) -> list[dict]:
    """Lines of the same Stock Code, reason, price and order summed into one item."""
    grouped: OrderedDict[ReturnLine, int] = OrderedDict()
    for line in lines:
        key = ReturnLine(line.stock_code, line.reason_id, to_pennies(line.unit_price),
                         line.source_order)  # fmt: skip
        grouped[key] = grouped.get(key, 0) + 1
    return [
        {
            "SKU": line.stock_code,
            "Mapping": [{"Mapping": "StockCode"}],
            "Quantity": quantity,
            "ReturnReason": {"ID": str(line.reason_id)},
            "UnitPrice": {"Gross": line.unit_price},
            "ExtendedDescription": [],
            "SourceReturnReference": {
                "SourceOrder": {"AssociatedRef": clean_text(line.source_order)}
            },
        }
        for line, quantity in grouped.items()
    ]


def customer_return(ret: Return, *, urn: str, lines: list[ReturnLine], process: bool) -> dict:
    created = ret.platform_created_at or ret.created_at
    return {
        "AssociatedRef": ret.associated_ref,
        "CreatedDate": khaos_datetime(created),
        "URN": clean_text(urn),
        "InvoiceAddress": address(ret),
        "InvoiceContact": contact(ret),
        "ReturnedItems": returned_items(lines),
        # Exchanges go out as their own zero-value sales orders, never here,
        # so nothing ships twice.
        "ExchangeItems": [],
        "Notes": clean_text(f"{ret.connection.spec.label} return {ret.external_id}"),
        "ProcessReturn": process,
    }


def exchange_order(
    ret: Return, exchange: ExchangeRequest, *, ref: str, urn: str, product: KhaosProduct,
    channel: KhaosChannel,
) -> dict:  # fmt: skip
    customer = {"CreateNew": "Never", "URN": clean_text(urn), "Currency": {"Code": ret.currency}}
    if channel.company_class_id:
        customer["CompanyClass"] = data_item(channel.company_class_id)
    header = {
        "AssociatedRef": ref,
        "OrderDate": khaos_datetime(ret.platform_created_at or ret.created_at),
        "Site": {"ID": str(channel.site_id)},
        "DiscountCodes": [],
        "DeliveryCharge": {"Gross": Decimal("0")},
        "CustomData": ret.associated_ref,
        "OrderNote": f"Exchange for return {ret.associated_ref}",
    }
    if channel.sales_source:
        header["SalesSource"] = {"Name": channel.sales_source}
    return {
        "Customer": customer,
        "InvoiceAddress": address(ret),
        "InvoiceContact": contact(ret),
        "DeliveryAddress": address(ret),
        "DeliveryContact": contact(ret),
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
