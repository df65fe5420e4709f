"""ReBound Returns payloads → the hub's return events.

The webhook envelope ``{event, sent_at, return}`` is the fixtures' model;
the return inside it has the shape of ReBound's ``/returns/get`` answer.
``price`` is VAT-inclusive per unit, with no discount or tax, so the expected
credit is price x quantity. Items carry no id: a unit is named by its line's
position and SKU. The hub acts only on a **final disposition**; the first
notice of a return and tracking moments are recorded, never posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT = frozenset({"Entered Our Network", "Arrived at Our Hub", "In Transit"})
DELIVERED = frozenset({"Delivered"})


def _lines(ret: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[str]]]:
    lines = []
    for index, item in enumerate(p.items(ret, "item", "return")):
        where = f"return.item[{index}]"
        sku = p.text(item, "sku_code", where, required=True)
        lines.append((item, p.unit_ids(f"{index}:{sku}", p.quantity(item, "quantity", where))))
    if not lines:
        raise ParseError("return.item is empty: a return needs at least one unit")
    return lines


def _reason(item: Mapping[str, Any]) -> str:
    reasons = item.get("reason")
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], Mapping):
        return p.text(reasons[0], "reason", "item.reason[0]")
    return ""


def parse(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    payload = p.require_mapping(payload, "body")
    ret = p.require_mapping(payload.get("return"), "return")
    rid = p.text(ret, "id", "return", required=True)
    sent = p.timestamp(payload, "sent_at", "body")
    lines = _lines(ret)
    units = tuple(
        ev.UnitData(external_id=uid, platform_sku=p.text(item, "sku_code", "item"),
                    title=p.text(item, "sku_desc", "item"), price=p.money(item, "price", "item"),
                    reason=_reason(item), outcome="refund")
        for item, uids in lines
        for uid in uids
    )  # fmt: skip
    address = {
        "line1": p.text(ret, "addr1", "return"), "line2": p.text(ret, "addr2", "return"),
        "line3": p.text(ret, "addr3", "return"), "town": p.text(ret, "city", "return"),
        "postcode": p.text(ret, "zip", "return"), "country_code": p.text(ret, "country", "return"),
    }  # fmt: skip
    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=f"rebound:{rid}:opened:{p.digest(*(u.external_id for u in units))}",
            occurred_at=p.timestamp(ret, "date_added", "return"),
            order_ref=p.order_ref(p.text(ret, "order_reference", "return")),
            customer_email=p.text(ret, "email", "return"),
            customer_name=p.text(ret, "name", "return"), address=address,
            currency=p.currency(ret, "currency_code", "return"),
            platform_state=p.text(ret, "current_tracking_status", "return"), units=units,
        )
    ]  # fmt: skip
    milestones = [p.text(h, "status", "tracking_history") for h in
                  p.items(ret, "tracking_history", "return")]  # fmt: skip
    milestones.append(p.text(ret, "current_tracking_status", "return"))
    if any(m in IN_TRANSIT | DELIVERED for m in milestones):
        events.append(ev.UnitsInTransit(rid, f"rebound:{rid}:in_transit", sent))
    if any(m in DELIVERED for m in milestones):
        events.append(ev.UnitsReceived(rid, f"rebound:{rid}:delivered", sent))
    for item, uids in lines:
        disposition = p.text(item, "final_disposition", "item")
        for uid in uids if disposition else ():
            events.append(ev.UnitGraded(rid, f"rebound:{rid}:final:{uid}:{disposition}", sent,
                                        unit_id=uid, disposition=disposition))  # fmt: skip
    return events
