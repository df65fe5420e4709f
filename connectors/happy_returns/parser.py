"""Happy Returns payloads → the hub's return events.

Deliveries are aggregated over 60 seconds, one POST per order number, and one
POST may carry units of several returns: items are grouped by
``happyReturnsReturnID``. Each item is one physical unit. The ``typeID`` values
``dropped-off``, ``approved`` and ``expired`` and the item money fields
(``price``, ``discount``, ``tax``, ``refundAmount``, ``refundedAt``) are the
fixtures' model of shapes Happy Returns does not publish.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT = frozenset({"dropped-off", "in-transit", "bagged", "consolidated"})
RECEIVED = frozenset({"received", "delivered"})


def _unit(item: Mapping[str, Any], where: str) -> ev.UnitData:
    return ev.UnitData(
        external_id=p.text(item, "happyReturnsItemID", where, required=True),
        platform_sku=p.text(item, "sku", where),
        barcode=p.text(item, "upc", where),
        title=p.text(item, "productName", where),
        price=p.money(item, "price", where),
        discount=p.money(item, "discount", where, required=False),
        tax=p.money(item, "tax", where, required=False),
        reason=p.text(item, "returnReason", where),
        outcome="refund",
    )


def _grouped(payload: Mapping[str, Any]) -> OrderedDict[str, list[Mapping[str, Any]]]:
    items = p.items(payload, "items", "body")
    if not items:
        raise ParseError("items is empty: a delivery names at least one unit")
    groups: OrderedDict[str, list] = OrderedDict()
    for index, item in enumerate(items):
        rid = p.text(item, "happyReturnsReturnID", f"items[{index}]", required=True)
        groups.setdefault(rid, []).append(item)
    return groups


def _opened(rid: str, items: list[Mapping[str, Any]]) -> ev.ReturnOpened:
    first = items[0]
    units = tuple(_unit(item, f"items[{rid}]") for item in items)
    return ev.ReturnOpened(
        external_id=rid,
        event_key=f"hr:{rid}:opened:{p.digest(*sorted(u.external_id for u in units))}",
        occurred_at=None,  # HR sends when the order was bought, not when the return began
        order_ref=p.order_ref(p.text(first, "orderNumber", "items[0]")),
        customer_email=p.text(first, "email", "items[0]"),
        currency=p.currency(first, "currency", "items[0]") if first.get("currency") else "GBP",
        units=units,
    )


def parse_return_asn(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    payload = p.require_mapping(payload, "body")
    type_id = p.text(payload, "typeID", "body", required=True)
    events: list[ev.ReturnEvent] = []
    for rid, items in _grouped(payload).items():
        opened = _opened(rid, items)
        ids = tuple(u.external_id for u in opened.units)
        events.append(opened)
        if type_id in IN_TRANSIT:
            events.append(ev.UnitsInTransit(rid, f"hr:{rid}:in_transit:{p.digest(*ids)}", None,
                                            unit_ids=ids))  # fmt: skip
        if type_id in RECEIVED:
            events.append(ev.UnitsReceived(rid, f"hr:{rid}:received:{p.digest(*ids)}", None,
                                           unit_ids=ids))  # fmt: skip
        for item, unit in zip(items, opened.units, strict=True):
            amount = p.money(item, "refundAmount", "item", required=False)
            if amount > 0:
                events.append(ev.RefundIssued(
                    rid, f"hr:{rid}:refund:{unit.external_id}",
                    p.timestamp(item, "refundedAt", "item"), amount=amount,
                    currency=opened.currency, reference=unit.external_id,
                ))  # fmt: skip
            outcome = p.text(item, "inspectionOutcome", "item")
            if outcome:
                events.append(ev.UnitGraded(rid, f"hr:{rid}:graded:{unit.external_id}:{outcome}",
                                            None, unit_id=unit.external_id,
                                            disposition=outcome))  # fmt: skip
        if type_id == "expired":
            events.append(ev.ReturnExpired(rid, f"hr:{rid}:expired", None))
        elif type_id in ("cancelled", "canceled"):
            events.append(ev.ReturnCancelled(rid, f"hr:{rid}:cancelled", None))
    return events


def parse_outbound_shipment(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    """A pallet on its way to the warehouse: its units become expected goods-in."""
    payload = p.require_mapping(payload, "body")
    pallet = p.text(payload, "palletNumber", "body", required=True)
    departed = p.timestamp(payload, "departureDate", "body")
    events: list[ev.ReturnEvent] = []
    for rid, items in _grouped(payload).items():
        opened = _opened(rid, items)
        events.append(opened)
        events.append(ev.ShipmentAnnounced(
            rid, f"hr:{rid}:shipment:{pallet}", departed, reference=pallet,
            unit_ids=tuple(u.external_id for u in opened.units),
            po_number=p.text(payload, "poNumber", "body"),
            carrier=p.text(payload, "carrier", "body"),
            tracking=p.text(payload, "tracking", "body"), departed_at=departed,
        ))  # fmt: skip
    return events
