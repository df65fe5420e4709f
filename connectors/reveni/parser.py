"""Reveni payloads → the hub's return events.

The envelope ``{event_id, event, occurred_at, store_id, data.return}`` and the
fields inside it are the fixtures' model (Reveni's public docs do not show
them); they are read here and nowhere else, so real names drop in here.
Money is decimal strings per unit, with a ``quantity`` per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT = frozenset({"in_transit", "shipped"})
RECEIVED = frozenset({"received", "delivered", "inspected"})
ADDRESS = {
    "line1": "line1",
    "line2": "line2",
    "town": "city",
    "postcode": "postcode",
    "country_code": "country_code",
}


def _units(ret: Mapping[str, Any]) -> tuple[ev.UnitData, ...]:
    units = []
    for index, item in enumerate(p.items(ret, "items", "return")):
        where = f"return.items[{index}]"
        line = p.text(item, "id", where, required=True)
        for uid in p.unit_ids(line, p.quantity(item, "quantity", where)):
            units.append(
                ev.UnitData(
                    external_id=uid,
                    platform_sku=p.text(item, "sku", where, required=True),
                    price=p.money(item, "unit_price", where),
                    discount=p.money(item, "unit_discount", where, required=False),
                    tax=p.money(item, "unit_tax", where, required=False),
                    reason=p.text(item, "reason", where),
                    outcome="refund",
                )
            )
    if not units:
        raise ParseError("return.items is empty: a return needs at least one unit")
    return tuple(units)


def parse(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    payload = p.require_mapping(payload, "body")
    event = p.text(payload, "event", "body", required=True)
    data = p.require_mapping(payload.get("data"), "data")
    ret = p.require_mapping(data.get("return"), "data.return")
    rid = p.text(ret, "id", "return", required=True)
    units = _units(ret)
    ids = tuple(u.external_id for u in units)
    customer = ret.get("customer") if isinstance(ret.get("customer"), Mapping) else {}
    address = ret.get("address") if isinstance(ret.get("address"), Mapping) else {}
    currency = p.currency(ret, "currency", "return")
    at = p.timestamp(payload, "occurred_at", "body")
    name = p.full_name(customer)
    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=f"reveni:{rid}:opened:{p.digest(*ids)}",
            occurred_at=p.timestamp(ret, "created_at", "return"),
            order_ref=p.order_ref(p.text(ret, "order_number", "return")),
            customer_email=p.text(customer, "email", "customer"),
            customer_name=name,
            address={
                **p.address(address, ADDRESS, "address"),
                "phone": p.text(customer, "phone", "customer"),
            },
            currency=currency,
            platform_state=p.text(ret, "status", "return"),
            units=units,
        )
    ]
    status = p.text(ret, "status", "return")
    if status in IN_TRANSIT | RECEIVED:
        events.append(ev.UnitsInTransit(rid, f"reveni:{rid}:in_transit", at))
    if status in RECEIVED:
        events.append(ev.UnitsReceived(rid, f"reveni:{rid}:received", at))
    refund = ret.get("refund") if isinstance(ret.get("refund"), Mapping) else {}
    if p.text(refund, "status", "refund") == "paid":
        reference = p.text(refund, "provider_reference", "refund") or p.text(refund, "id", "refund")
        events.append(
            ev.RefundIssued(
                rid,
                f"reveni:{rid}:refund:{p.text(refund, 'id', 'refund') or reference}",
                p.timestamp(refund, "paid_at", "refund") or at,
                amount=p.money(refund, "amount", "refund"),
                currency=(p.text(refund, "currency", "refund") or currency).upper(),
                reference=reference,
            )
        )
    for index, item in enumerate(p.items(ret, "items", "return")):
        condition = p.text(item, "condition", f"return.items[{index}]")
        if not condition:
            continue
        line = p.text(item, "id", "item")
        for uid in p.unit_ids(line, p.quantity(item, "quantity", "item")):
            events.append(
                ev.UnitGraded(
                    rid,
                    f"reveni:{rid}:graded:{uid}:{condition}",
                    p.timestamp(item, "inspected_at", "item") or at,
                    unit_id=uid,
                    disposition=condition,
                )
            )
    if event == "return.cancelled" or status == "cancelled":
        events.append(ev.ReturnCancelled(rid, f"reveni:{rid}:cancelled", at))
    return events
