"""ReBound Returns payloads → the hub's return events.

The webhook envelope ``{event, sent_at, return}`` is the fixtures' model;
the return inside it has the shape of ReBound's ``/returns/get`` answer, whose
only public field list (tap-rebound's schema, kept in
tests/fixtures/realworld/rebound/) types **every field as a string**: ids,
``quantity`` ("1") and ``price`` ("12.50") are read from text or numbers alike.
That answer has no ``currency_code`` (the connection's currency is used when it
is absent) and gives ``date_added`` without a zone ("2019-05-01 10:00:00"),
read in the connection's time zone.

``price`` is VAT-inclusive per unit, with no discount or tax, so the expected
credit is price x quantity. Items carry no id, so a unit is named by its SKU
alone (``HF-TEE-M``), or its SKU and a number when a return holds more than one
unit of that SKU (``HF-TEE-M#1``, ``HF-TEE-M#2``), numbered in an order of the
items' own content: never by position, so a list answered in another order names
the same units. The hub acts only on a **final disposition**; the first notice of
a return and tracking moments are recorded, never posted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT = frozenset({"Entered Our Network", "Arrived at Our Hub", "In Transit"})
DELIVERED = frozenset({"Delivered"})
# "2019/05/01 10:00:00": the date style of ReBound's search filter, read as ISO 8601.
ADDRESS = {
    "line1": "addr1",
    "line2": "addr2",
    "line3": "addr3",
    "town": "city",
    "postcode": "zip",
    "country_code": "country",
}
SLASHED = re.compile(r"^(\d{4})/(\d{2})/(\d{2})")


def _time(obj: Mapping[str, Any], key: str, where: str, context: ParseContext) -> datetime | None:
    """A ReBound time: ISO 8601 or "YYYY-MM-DD HH:MM:SS" (also with slashes); one
    without a zone is in the connection's time zone; a zero date is no date."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(value, str):
        value = SLASHED.sub(r"\1-\2-\3", value.strip())
        if value.startswith("0000-00-00"):
            return None
        obj = {key: value}
    return p.timestamp(obj, key, where, zone=context.time_zone)


def _reasons(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    reasons = item.get("reason")
    if not isinstance(reasons, list):
        return []
    return [r for r in reasons if isinstance(r, Mapping)]


def _reason(item: Mapping[str, Any], where: str) -> str:
    reasons = _reasons(item)
    return p.text(reasons[0], "reason", f"{where}.reason[0]") if reasons else ""


def _content(item: Mapping[str, Any], where: str) -> tuple:
    """What tells two lines of one SKU apart, in the order their units are numbered:
    what does not change over the return's life first, the disposition last."""
    return (
        str(p.money(item, "price", where)),
        p.text(item, "sku_desc", where),
        json.dumps(_reasons(item), sort_keys=True, default=str),
        p.text(item, "final_disposition", where),
    )


def _lines(ret: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Each item with its units' ids, in the order ReBound listed the items."""
    read = []
    for index, item in enumerate(p.items(ret, "item", "return")):
        where = f"return.item[{index}]"
        sku = p.text(item, "sku_code", where, required=True)
        count = p.quantity(item, "quantity", where)
        read.append((item, sku, count, _content(item, where)))
    if not read:
        raise ParseError("return.item is empty: a return needs at least one unit")
    totals: Counter[str] = Counter()
    for _item, sku, count, _key in read:
        totals[sku] += count
    numbered: Counter[str] = Counter()
    ids: dict[int, list[str]] = {}
    # Units of one SKU are numbered by their lines' content, never by position.
    for n in sorted(range(len(read)), key=lambda n: (read[n][1], read[n][3])):
        _item, sku, count, _key = read[n]
        ids[n] = []
        for _ in range(count):
            numbered[sku] += 1
            ids[n].append(sku if totals[sku] == 1 else f"{sku}#{numbered[sku]}")
    every = [uid for n in ids for uid in ids[n]]
    if len(set(every)) != len(every):
        raise ParseError("return.item: two units would share an id (a SKU ends in #<number>)")
    return [(item, ids[n]) for n, (item, *_rest) in enumerate(read)]


def _currency(ret: Mapping[str, Any], context: ParseContext) -> str:
    if ret.get("currency_code") in (None, ""):
        return context.currency  # ReBound's /returns/get answer has no currency
    return p.currency(ret, "currency_code", "return")


def parse(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    payload = p.require_mapping(payload, "body")
    ret = p.require_mapping(payload.get("return"), "return")
    rid = p.text(ret, "id", "return", required=True)
    # When ReBound said it (a webhook), else when the return's tracking last moved (a poll).
    sent = _time(payload, "sent_at", "body", context) or _time(
        ret, "tracking_last_update", "return", context
    )
    lines = _lines(ret)
    units = tuple(
        ev.UnitData(
            external_id=uid,
            platform_sku=p.text(item, "sku_code", "item"),
            title=p.text(item, "sku_desc", "item"),
            price=p.money(item, "price", "item"),
            reason=_reason(item, "item"),
            outcome="refund",
        )
        for item, uids in lines
        for uid in uids
    )
    address = p.address(ret, ADDRESS, "return")
    known = p.digest(*sorted(u.external_id for u in units))
    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=f"rebound:{rid}:opened:{known}",
            occurred_at=_time(ret, "date_added", "return", context),
            order_ref=p.order_ref(p.text(ret, "order_reference", "return")),
            customer_email=p.text(ret, "email", "return"),
            customer_name=p.text(ret, "name", "return"),
            address=address,
            currency=_currency(ret, context),
            platform_state=p.text(ret, "current_tracking_status", "return"),
            units=units,
        )
    ]
    milestones = [
        p.text(h, "status", "tracking_history") for h in p.items(ret, "tracking_history", "return")
    ]
    milestones.append(p.text(ret, "current_tracking_status", "return"))
    if any(m in IN_TRANSIT | DELIVERED for m in milestones):
        events.append(ev.UnitsInTransit(rid, f"rebound:{rid}:in_transit", sent))
    if any(m in DELIVERED for m in milestones):
        events.append(ev.UnitsReceived(rid, f"rebound:{rid}:delivered", sent))
    for item, uids in lines:
        disposition = p.text(item, "final_disposition", "item")
        for uid in uids if disposition else ():
            events.append(
                ev.UnitGraded(
                    rid,
                    f"rebound:{rid}:final:{uid}:{disposition}",
                    sent,
                    unit_id=uid,
                    disposition=disposition,
                )
            )
    return events
