"""Happy Returns payloads → the hub's return events.

Deliveries are aggregated over 60 seconds, one POST per order number, and one
POST may carry units of several returns: items are grouped by
``happyReturnsReturnID``. Each item is one physical unit.

Checked against Happy Returns' public examples (copies in
tests/fixtures/realworld/happy_returns/): the ``return.asn`` body (top level
``event``, ``typeID``, ``retailerID``, ``otherEvents``, ``items``; no item id,
no price, no currency) and the ``return.label.update`` body. Modelled where
nothing is public: ``happyReturnsItemID``, ``returnReason``,
``inspectionOutcome``, the ``typeID`` values ``dropped-off``, ``approved`` and
``expired``, and the item money fields (``currency``, ``price``, ``discount``,
``tax``, ``refundAmount``, ``refundedAt``).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT = frozenset({"dropped-off", "in-transit", "bagged", "consolidated"})
RECEIVED = frozenset({"received", "delivered"})
CANCELLED = frozenset({"cancelled", "canceled"})
STATUS_EVENT = "return_status_updated"


def unit_ids(items: Sequence[Mapping[str, Any]], where: str = "items") -> list[str]:
    """Each item's unit id: ``happyReturnsItemID``, else its ``orderLineItemID``
    followed by its place among items of the same line (``LI``, ``LI#2``, …).

    The documented body has no item id; HR suffixes equal line ids itself
    (``12345-0-2``, ``12345-1-2``), so the place only tells apart what it did not.
    """
    places: Counter[str] = Counter()
    ids: list[str] = []
    for index, item in enumerate(items):
        name = f"{where}[{index}]"
        item_id = _id(item, "happyReturnsItemID", name)
        if not item_id:
            line = _id(item, "orderLineItemID", name)
            if not line:
                raise ParseError(f"{name} has neither happyReturnsItemID nor orderLineItemID")
            places[line] += 1
            item_id = line if places[line] == 1 else f"{line}#{places[line]}"
        ids.append(item_id)
    twice = sorted(unit for unit, count in Counter(ids).items() if count > 1)
    if twice:
        raise ParseError(f"{where} names unit {twice[0]} more than once")
    return ids


def _id(item: Mapping[str, Any], key: str, where: str) -> str:
    # Absent is allowed; present, it is an id on one line like every required field.
    if not isinstance(item, Mapping) or item.get(key) in (None, ""):
        return ""
    return p.text(item, key, where, required=True)


def _unit(item: Mapping[str, Any], unit_id: str, where: str) -> ev.UnitData:
    # No price in the body (the documented example has none): Khaos prices the line
    # from the source order, and the hub estimates the credit from the Khaos SellPrice.
    priced = item.get("price") not in (None, "")
    return ev.UnitData(
        external_id=unit_id,
        platform_sku=p.text(item, "sku", where),
        barcode=p.text(item, "upc", where),
        title=p.text(item, "productName", where),
        price=p.money(item, "price", where) if priced else None,
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


def _currency(payload: Mapping[str, Any], first: Mapping[str, Any], context: ParseContext) -> str:
    """The body's currency where it has one, else the connection's (HR documents none)."""
    for source, where in ((first, "items[0]"), (payload, "body")):
        if source.get("currency") not in (None, ""):
            return p.currency(source, "currency", where)
    return context.currency


def _opened(
    payload: Mapping[str, Any], rid: str, items: list[Mapping[str, Any]], context: ParseContext
) -> ev.ReturnOpened:
    first = items[0]
    where = f"items[{rid}]"
    ids = unit_ids(items, where)
    units = tuple(_unit(item, unit_id, where) for item, unit_id in zip(items, ids, strict=True))
    return ev.ReturnOpened(
        external_id=rid,
        event_key=f"hr:{rid}:opened:{p.digest(*sorted(ids))}",
        occurred_at=None,  # HR sends when the order was bought, not when the return began
        order_ref=p.order_ref(p.text(first, "orderNumber", "items[0]")),
        customer_email=p.text(first, "email", "items[0]"),
        currency=_currency(payload, first, context),
        units=units,
    )


def _statuses(payload: Mapping[str, Any]) -> set[str]:
    """The typeIDs this delivery reports: its own, and those of the status events
    aggregated beside it in ``otherEvents`` (read leniently: they only add)."""
    found = {p.text(payload, "typeID", "body")}
    others = payload.get("otherEvents")
    for other in others if isinstance(others, list) else []:
        if isinstance(other, Mapping) and other.get("event") == STATUS_EVENT:
            type_id = other.get("typeID")
            found.add(type_id.strip() if isinstance(type_id, str) else "")
    found.discard("")
    return found


def parse_return_asn(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    """A return's status with its units. ``started`` (and a drop-off method such as
    ``return-bar`` in ``otherEvents``) only opens the return: nothing has moved yet."""
    payload = p.require_mapping(payload, "body")
    statuses = _statuses(payload)
    events: list[ev.ReturnEvent] = []
    for rid, items in _grouped(payload).items():
        opened = _opened(payload, rid, items, context)
        ids = tuple(u.external_id for u in opened.units)
        digest = p.digest(*ids)
        events.append(opened)
        if statuses & IN_TRANSIT:
            events.append(
                ev.UnitsInTransit(rid, f"hr:{rid}:in_transit:{digest}", None, unit_ids=ids)
            )
        if statuses & RECEIVED:
            events.append(ev.UnitsReceived(rid, f"hr:{rid}:received:{digest}", None, unit_ids=ids))
        for item, unit in zip(items, opened.units, strict=True):
            events += _item_events(rid, item, unit, opened.currency, context)
        if "expired" in statuses:
            events.append(ev.ReturnExpired(rid, f"hr:{rid}:expired", None))
        elif statuses & CANCELLED:
            events.append(ev.ReturnCancelled(rid, f"hr:{rid}:cancelled", None))
    return events


def _item_events(
    rid: str, item: Mapping[str, Any], unit: ev.UnitData, currency: str, context: ParseContext
) -> list[ev.ReturnEvent]:
    """A unit's refund and grade, where the (modelled) item fields carry them."""
    events: list[ev.ReturnEvent] = []
    amount = p.money(item, "refundAmount", "item", required=False)
    if amount > 0:
        refunded = p.timestamp(item, "refundedAt", "item", zone=context.time_zone)
        events.append(
            ev.RefundIssued(
                rid,
                f"hr:{rid}:refund:{unit.external_id}",
                refunded,
                amount=amount,
                currency=currency,
                reference=unit.external_id,
            )
        )
    outcome = p.text(item, "inspectionOutcome", "item")
    if outcome:
        events.append(
            ev.UnitGraded(
                rid,
                f"hr:{rid}:graded:{unit.external_id}:{outcome}",
                None,
                unit_id=unit.external_id,
                disposition=outcome,
            )
        )
    return events


def parse_label_update(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    """``return.label.update``: the return's label (its id is the label's barcode).

    The documented body has an empty ``typeID`` and no carrier; the express code
    is the customer's Return Bar code, which the hub has no field for.
    """
    payload = p.require_mapping(payload, "body")
    rid = p.text(payload, "happyReturnsReturnID", "body", required=True)
    label = p.text(payload, "labelID", "body")
    status = p.text(payload, "typeID", "body") or "updated"
    express = p.text(payload, "happyReturnsExpressCode", "body")
    return [
        ev.LabelUpdated(
            rid,
            f"hr:{rid}:label:{p.digest(label, status, express)}",
            None,
            status=status,
            tracking=label,
        )
    ]


def parse_outbound_shipment(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    """A pallet on its way to the warehouse: its units become expected goods-in."""
    payload = p.require_mapping(payload, "body")
    pallet = p.text(payload, "palletNumber", "body", required=True)
    departed = p.timestamp(payload, "departureDate", "body", zone=context.time_zone)
    events: list[ev.ReturnEvent] = []
    for rid, items in _grouped(payload).items():
        opened = _opened(payload, rid, items, context)
        events.append(opened)
        events.append(
            ev.ShipmentAnnounced(
                rid,
                f"hr:{rid}:shipment:{pallet}",
                departed,
                reference=pallet,
                unit_ids=tuple(u.external_id for u in opened.units),
                po_number=p.text(payload, "poNumber", "body"),
                carrier=p.text(payload, "carrier", "body"),
                tracking=p.text(payload, "tracking", "body"),
                departed_at=departed,
            )
        )
    return events
