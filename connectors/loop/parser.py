"""Loop Returns payloads → the hub's return events.

Loop lists one ``line_items`` entry per unit (no quantity) and sends money as
decimal strings. Loop adds fields at any time: unknown fields are ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from connectors.base import parsing as p
from connectors.base.errors import ParseError
from returns_hub.events import ReturnOpened, UnitData


def event_key(kind: str, payload: Mapping[str, Any]) -> str:
    """Stable for the same change, whether it came by webhook or by poll."""
    material = {
        "state": payload.get("state"),
        "edited_at": payload.get("edited_at"),
        "line_items": payload.get("line_items"),
        "refunds": payload.get("refunds"),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode())
    return f"loop:{kind}:{payload.get('id')}:{digest.hexdigest()[:24]}"


def _unit(line: Mapping[str, Any], index: int) -> UnitData:
    where = f"line_items[{index}]"
    return UnitData(
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


def parse_return(payload: Mapping[str, Any]) -> list[ReturnOpened]:
    if not isinstance(payload, Mapping):
        raise ParseError("the body must be a JSON object")
    external_id = p.text(payload, "id", "return", required=True)
    lines = p.items(payload, "line_items", "return")
    if not lines:
        raise ParseError("return.line_items is empty: a return needs at least one unit")
    units = tuple(_unit(line, i) for i, line in enumerate(lines))
    ids = [unit.external_id for unit in units]
    if len(set(ids)) != len(ids):
        raise ParseError("return.line_items repeats a line_item_id")
    detail = payload.get("customer_detail") or {}
    name = " ".join(
        part
        for part in (
            p.text(detail, "first_name", "customer_detail"),
            p.text(detail, "last_name", "customer_detail"),
        )
        if part
    )
    email = p.text(detail, "email", "customer_detail") or p.text(payload, "customer", "return")
    order_name = p.text(payload, "order_name", "return") or p.text(
        payload, "order_number", "return"
    )
    address = payload.get("address") if isinstance(payload.get("address"), Mapping) else {}
    return [
        ReturnOpened(
            external_id=external_id,
            event_key=event_key(p.text(payload, "trigger", "return") or "return", payload),
            occurred_at=p.timestamp(payload, "edited_at", "return")
            or p.timestamp(payload, "created_at", "return"),
            order_ref=p.order_ref(order_name),
            customer_email=email,
            customer_name=name,
            address=dict(address),
            currency=p.currency(payload, "currency", "return"),
            platform_state=p.text(payload, "state", "return"),
            units=units,
        )
    ]
