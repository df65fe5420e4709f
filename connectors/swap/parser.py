"""Swap Commerce payloads → the hub's return events.

The envelope ``{id, event, created_at, shop, data}`` and the fields inside it
are the fixtures' model (Swap's public docs do not show them); they are read
here and nowhere else. Money is integer minor units (``*_minor``). The whole
``status_history`` is read, so a missed webhook's moment is still applied, in
order, from the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

ADDRESS = {
    "line1": "address1",
    "line2": "address2",
    "town": "city",
    "postcode": "zip",
    "country_code": "country_code",
}
CREDIT_TYPES = {
    "shop_later_credit": "store_credit",
    "shop_now_credit": "store_credit",
    "gift_card": "gift_card",
}


def _lines(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[str]]]:
    lines = []
    for index, item in enumerate(p.items(data, "items", "data")):
        where = f"data.items[{index}]"
        line = p.text(item, "line_id", where, required=True)
        lines.append((item, p.unit_ids(line, p.quantity(item, "quantity", where))))
    if not lines:
        raise ParseError("data.items is empty: a return needs at least one unit")
    return lines


def parse(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    payload = p.require_mapping(payload, "body")
    data = p.require_mapping(payload.get("data"), "data")
    rid = p.text(data, "return_id", "data", required=True)
    currency = p.currency(data, "currency", "data")
    lines = _lines(data)
    units = tuple(
        ev.UnitData(
            external_id=uid,
            platform_sku=p.text(item, "sku", "item", required=True),
            title=p.text(item, "title", "item"),
            price=p.minor_units(item, "unit_price_minor", "item"),
            discount=p.minor_units(item, "unit_discount_minor", "item", required=False),
            tax=p.minor_units(item, "unit_tax_minor", "item", required=False),
            reason=p.text(item, "reason", "item"),
            outcome="exchange" if p.text(data, "return_type", "data") == "Exchange" else "refund",
        )
        for item, uids in lines
        for uid in uids
    )
    exchanges = []
    for index, item in enumerate(p.items(data, "exchange_items", "data")):
        where = f"data.exchange_items[{index}]"
        count = p.quantity(item, "quantity", where)
        each = p.minor_units(item, "unit_price_minor", where) + p.minor_units(
            item, "unit_tax_minor", where, required=False
        )
        sku = p.text(item, "sku", where, required=True)
        exchanges.append(
            ev.ExchangeData(
                external_id=f"{p.text(item, 'replaces_line_id', where) or index}:{sku}",
                platform_sku=sku,
                title=p.text(item, "title", where),
                quantity=count,
                value=each * count,
            )
        )
    customer = data.get("customer") if isinstance(data.get("customer"), Mapping) else {}
    address = data.get("shipping_address")
    address = address if isinstance(address, Mapping) else {}
    name = p.full_name(customer)
    known = p.digest(*(u.external_id for u in units), *(x.external_id for x in exchanges))
    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=f"swap:{rid}:opened:{known}",
            occurred_at=p.timestamp(data, "created_at", "data"),
            order_ref=p.order_ref(p.text(data, "order_number", "data")),
            customer_email=p.text(customer, "email", "customer"),
            customer_name=name,
            address={
                **p.address(address, ADDRESS, "address"),
                "phone": p.text(customer, "phone", "customer"),
            },
            currency=currency,
            platform_state=p.text(data, "status", "data"),
            units=units,
            exchanges=tuple(exchanges),
        )
    ]
    history = p.items(data, "status_history", "data")
    moments = [p.text(h, "status", "status_history") for h in history]
    current = p.text(data, "status", "data")
    if current and current not in moments:
        moments.append(current)
    at = {p.text(h, "status", "h"): p.timestamp(h, "at", "status_history") for h in history}
    reached = set(moments)
    if reached & {"in_transit", "delivered", "inspected", "refunded"}:
        events.append(ev.UnitsInTransit(rid, f"swap:{rid}:in_transit", at.get("in_transit")))
    if reached & {"delivered", "inspected", "refunded"}:
        events.append(ev.UnitsReceived(rid, f"swap:{rid}:delivered", at.get("delivered")))
    if "cancelled" in reached:
        events.append(ev.ReturnCancelled(rid, f"swap:{rid}:cancelled", at.get("cancelled")))
    for item, uids in lines:
        disposition = p.text(item, "disposition", "item")
        if disposition:
            inspected = p.timestamp(item, "inspected_at", "item")
            condition = p.text(item, "condition", "item")
            for uid in uids:
                events.append(
                    ev.UnitGraded(
                        rid,
                        f"swap:{rid}:graded:{uid}:{disposition}",
                        inspected,
                        unit_id=uid,
                        disposition=disposition,
                        condition=condition,
                    )
                )
    refund = data.get("refund") if isinstance(data.get("refund"), Mapping) else {}
    paid = p.minor_units(refund, "amount_minor", "refund", required=False)
    if p.text(refund, "status", "refund") == "refunded" and paid > 0:
        events.append(
            ev.RefundIssued(
                rid,
                f"swap:{rid}:refund:{p.text(refund, 'reference', 'refund') or paid}",
                p.timestamp(refund, "refunded_at", "refund"),
                amount=paid,
                currency=currency,
                reference=p.text(refund, "reference", "refund"),
            )
        )
    credit = data.get("credit")
    if isinstance(credit, Mapping):
        code = p.text(credit, "code", "credit", required=True)
        events.append(
            ev.CreditIssued(
                rid,
                f"swap:{rid}:credit:{code}",
                p.timestamp(credit, "issued_at", "credit"),
                amount=p.minor_units(credit, "amount_minor", "credit"),
                currency=(p.text(credit, "currency", "credit") or currency).upper(),
                reference=code,
                kind=CREDIT_TYPES.get(p.text(credit, "type", "credit"), "store_credit"),
            )
        )
    return events
