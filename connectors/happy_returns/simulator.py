"""Happy Returns, simulated: aggregated return.asn webhooks, pallets, lookups, and the
approve call that refunds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote

from connectors.base.simulator import STEPS, Dialect, SimReturn, money

TYPE_ID = {
    "opened": "started",
    "in_transit": "dropped-off",
    "graded": "inspected",
    "refunded": "approved",
    "cancelled": "cancelled",
    "expired": "expired",
}
GRADE = {"restock": "sellable", "write_off": "damaged"}


def _paid(ret: SimReturn, unit) -> bool:
    """Refunded: the return reached its refund, and the retailer did not refuse the item."""
    return ret.stage == "refunded" and unit.approved is not False


def items(ret: SimReturn) -> list[dict]:
    graded = ret.stage in ("graded", "refunded")
    return [
        {
            "happyReturnsReturnID": ret.id,
            "happyReturnsItemID": u.id,
            "orderNumber": ret.order,
            "email": ret.email,
            "sku": u.sku,
            "upc": u.barcode,
            "productName": u.title,
            "returnReason": u.reason,
            "refundType": "original-payment",
            "inspectionOutcome": u.disposition if graded else "",
            "currency": "GBP",
            "price": money(u.price),
            "discount": money(u.discount),
            "tax": money(u.tax),
            "refundAmount": money(u.refund) if _paid(ret, u) else None,
            "refundedAt": ret.updated.isoformat() if _paid(ret, u) else None,
        }
        for u in ret.units
    ]


def pallet(ret: SimReturn) -> dict:
    return {
        "event": "outbound_shipment_created",
        "webhookType": "outbound_shipment.asn",
        "poNumber": f"PO-{ret.id}",
        "palletNumber": f"PLT-{ret.id}",
        "carrier": "Simulated Freight",
        "tracking": f"TRK{ret.id}",
        "departureDate": ret.updated.isoformat(),
        "items": items(ret),
    }


class HappyReturnsDialect(Dialect):
    platform = "happy-returns"
    api_key_header = "X-Hr-Apikey"
    problems = ("unknown_sku", "unmapped_disposition", "value_mismatch", "unknown_customer")

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, dict]] = []  # every approve call received

    def too_many(self, wait):
        # Happy Returns says how long to wait in the body, with no Retry-After.
        limit = "limit 0.500000 requests/sec"
        return {"ErrorMessage": f"too many requests: {limit}, leaky bucket size {wait}"}

    def webhook(self, ret, stage):
        if stage == "delivered":
            return [pallet(ret)]  # consolidated and shipped to the warehouse
        return [
            {
                "event": "return_status_updated",
                "typeID": TYPE_ID[stage],
                "webhookType": "return.asn",
                "otherEvents": [],
                "items": items(ret),
            }
        ]

    def api(self, sim, method, path, query, form):
        if method == "POST" and (found := APPROVE.match(path)):
            return approve(sim, self, unquote(found[1]), form)
        if path == "/returns" and query.get("orderNumber"):
            found = [r for r in sim.returns.values() if r.order == query["orderNumber"]]
            if not found:
                return 204, None
            ret = found[0]
            type_id = TYPE_ID.get(ret.stage, "dropped-off")
            return 200, {"typeID": type_id, "items": items(ret)}
        if path == "/outbound-shipments":
            shipped = [r for r in sim.listed() if r.stage in ("delivered", "graded", "refunded")]
            return 200, {"data": [pallet(r) for r in shipped], "meta": {"next": None}}
        return 404, {"error": "no such endpoint"}


# --- Approve (POST /returns/{id}/approve: the path is modelled) ----------------------------

APPROVE = re.compile(r"^/returns/([^/]+)/approve$")
CONDITIONS = ("sellable", "damaged", "missing", "wrong-item")


def _refused(status: int, message: str) -> tuple[int, dict]:
    return status, {"ErrorMessage": message}


def _bad_returning(ret: SimReturn, body: dict) -> str:
    """Why the approve body cannot be used; "" when it can."""
    returning = body.get("returning")
    if not isinstance(returning, list) or not returning:
        return "returning must be a non-empty list"
    ids = {u.id for u in ret.units}
    for index, item in enumerate(returning):
        if not isinstance(item, dict):
            return f"returning[{index}] must be an object"
        if (item_id := item.get("happyReturnsItemID")) not in ids:
            return f"returning[{index}]: unknown happyReturnsItemID {item_id!r}"
        if not isinstance(item.get("approve"), bool):
            return f"returning[{index}]: approve must be true or false"
        if item.get("condition") not in CONDITIONS:
            return f"returning[{index}]: condition must be one of {', '.join(CONDITIONS)}"
    return ""


def approve(sim, dialect, rid: str, body: dict) -> tuple[int, object]:
    """Approve items as Happy Returns does: each approved item is refunded (once, however
    often it is approved), and the refund follows as a ``return.asn`` (``approved``, in
    the project's fixture shape: the documented example carries no money)."""
    dialect.writes.append(("approve", rid, body))
    ret = sim.returns.get(rid)
    if ret is None:
        return _refused(404, f"return {rid} not found")
    problem = body.get("_invalid") or _bad_returning(ret, body)
    if problem:
        return _refused(400, problem)
    if ret.ending:
        return _refused(409, f"return {rid} is {ret.ending}")
    units = {u.id: u for u in ret.units}
    for item in body["returning"]:
        unit = units[item["happyReturnsItemID"]]
        unit.approved = unit.approved or item["approve"]  # a refund is never taken back
    ret.held = True  # the retailer decided: the simulated story stops here
    ret.step = STEPS.index("refunded")
    ret.updated = datetime.now(UTC).replace(microsecond=0)
    if any(u.approved for u in ret.units):
        status = {"event": "return_status_updated", "typeID": TYPE_ID["refunded"]}
        sim.later([{**status, "webhookType": "return.asn", "otherEvents": [], "items": items(ret)}])
    return 200, {"approved": [u.id for u in ret.units if u.approved]}
