"""Loop Returns payloads → the hub's return events.

Loop sends the whole return every time (webhook or list poll alike), so the
parser reads the snapshot and emits one event per fact in it: the return and
its units, the label's progress, each grade, each refund, a cancellation.
Each event's key names the fact, not the delivery, so a fact is applied once
however many snapshots repeat it.

Loop lists one ``line_items`` entry per unit (no quantity) and sends money as
decimal strings. Loop adds fields at any time: unknown fields are ignored.
Grades are read from ``condition_category``/``disposition`` on each line
(the placement the fixtures model; not confirmed by Loop's public docs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT_LABELS = frozenset({"in_transit", "out_for_delivery"})
DELIVERED_LABELS = frozenset({"delivered"})


def _unit(line: Mapping[str, Any], index: int) -> ev.UnitData:
    where = f"line_items[{index}]"
    return ev.UnitData(
        external_id=p.text(line, "line_item_id", where, required=True),
        platform_sku=p.text(line, "sku", where),
        barcode=p.text(line, "barcode", where),
        title=p.text(line, "title", where),
        price=p.money(line, "price", where),
        discount=p.money(line, "discount", where, required=False),
        tax=p.money(line, "tax", where, required=False),
        reason=p.text(line, "return_reason", where),
        outcome=p.text(line, "outcome", where),
    )


def _exchange(item: Mapping[str, Any], index: int) -> ev.ExchangeData:
    where = f"exchanges[{index}]"
    return ev.ExchangeData(
        external_id=p.text(item, "exchange_id", where, required=True),
        platform_sku=p.text(item, "sku", where, required=True),
        title=p.text(item, "title", where),
        value=p.money(item, "total", where, required=False),
    )


ADDRESS = {"line1": "address1", "line2": "address2", "town": "city", "county": "state",
           "postcode": "zip", "country_code": "country_code", "phone": "phone"}  # fmt: skip


def _address(payload: Mapping[str, Any]) -> dict:
    raw = payload.get("address")
    return p.address(raw, ADDRESS, "address") if isinstance(raw, Mapping) else {}


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def parse_return(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    if not isinstance(payload, Mapping):
        raise ParseError("the body must be a JSON object")
    rid = p.text(payload, "id", "return", required=True)
    lines = p.items(payload, "line_items", "return")
    if not lines:
        raise ParseError("return.line_items is empty: a return needs at least one unit")
    units = tuple(_unit(line, i) for i, line in enumerate(lines))
    ids = [unit.external_id for unit in units]
    if len(set(ids)) != len(ids):
        raise ParseError("return.line_items repeats a line_item_id")
    exchanges = tuple(
        _exchange(x, i) for i, x in enumerate(p.items(payload, "exchanges", "return"))
    )
    currency = p.currency(payload, "currency", "return")
    state = p.text(payload, "state", "return")
    detail = (
        payload.get("customer_detail")
        if isinstance(payload.get("customer_detail"), Mapping)
        else {}
    )
    first = p.text(detail, "first_name", "customer_detail")
    last = p.text(detail, "last_name", "customer_detail")
    email = p.text(detail, "email", "customer_detail") or p.text(payload, "customer", "return")
    order = p.text(payload, "order_name", "return") or p.text(payload, "order_number", "return")
    created = p.timestamp(payload, "created_at", "return")
    edited = p.timestamp(payload, "edited_at", "return") or created

    def key(*parts: object) -> str:
        return ":".join(["loop", rid, *map(str, parts)])

    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=key("opened", _digest(*ids, *(x.external_id for x in exchanges))),
            occurred_at=created,
            order_ref=p.order_ref(order),
            customer_email=email,
            customer_name=" ".join(part for part in (first, last) if part),
            address=_address(payload),
            currency=currency,
            platform_state=state,
            units=units,
            exchanges=exchanges,
            handling_fee=p.money(payload, "handling_fee", "return", required=False),
        )
    ]
    for index, label in enumerate(p.items(payload, "labels", "return")):
        status = p.text(label, "status", f"labels[{index}]")
        tracking = p.text(label, "tracking_number", f"labels[{index}]") or str(index)
        members = tuple(i for i in p.strings(label, "line_items", f"labels[{index}]") if i in ids)
        at = p.timestamp(label, "updated_at", f"labels[{index}]")
        if status in IN_TRANSIT_LABELS | DELIVERED_LABELS:
            events.append(ev.UnitsInTransit(rid, key("label", tracking, "in_transit"), at,
                                            unit_ids=members, shipment=tracking))  # fmt: skip
        if status in DELIVERED_LABELS:
            events.append(ev.UnitsReceived(rid, key("label", tracking, "delivered"), at,
                                           unit_ids=members))  # fmt: skip
    for index, line in enumerate(lines):
        disposition = p.text(line, "disposition", f"line_items[{index}]")
        if disposition:
            unit_id = ids[index]
            events.append(ev.UnitGraded(
                rid, key("graded", unit_id, disposition),
                p.timestamp(line, "graded_at", f"line_items[{index}]") or edited,
                unit_id=unit_id, disposition=disposition,
                condition=p.text(line, "condition_category", f"line_items[{index}]"),
            ))  # fmt: skip
    for index, refund in enumerate(p.items(payload, "refunds", "return")):
        where = f"refunds[{index}]"
        amount = p.money(refund, "amount", where)
        reference = p.text(refund, "provider_refund_id", where) or f"{index}:{amount}"
        events.append(ev.RefundIssued(
            rid, key("refund", reference), edited, amount=amount,
            currency=p.text(refund, "currency", where).upper() or currency, reference=reference,
        ))  # fmt: skip
    gift_card = p.money(payload, "gift_card", "return", required=False)
    if gift_card > 0:
        events.append(ev.CreditIssued(rid, key("gift_card", gift_card), edited, amount=gift_card,
                                      currency=currency, reference=f"LOOP-GC-{rid}",
                                      kind="gift_card"))  # fmt: skip
    if state == "cancelled":
        events.append(ev.ReturnCancelled(rid, key("cancelled"), edited))
    elif state == "expired":
        events.append(ev.ReturnExpired(rid, key("expired"), edited))
    return events
