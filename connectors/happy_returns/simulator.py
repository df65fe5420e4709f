"""Happy Returns, simulated: aggregated return.asn webhooks, pallets, and lookups."""

from __future__ import annotations

from connectors.base.simulator import Dialect, SimReturn, money

TYPE_ID = {"opened": "started", "in_transit": "dropped-off", "graded": "inspected",
           "refunded": "approved", "cancelled": "cancelled", "expired": "expired"}  # fmt: skip
GRADE = {"restock": "sellable", "write_off": "damaged"}


def items(ret: SimReturn) -> list[dict]:
    graded = ret.stage in ("graded", "refunded")
    refunded = ret.stage == "refunded"
    return [
        {"happyReturnsReturnID": ret.id, "happyReturnsItemID": u.id, "orderNumber": ret.order,
         "email": ret.email, "sku": u.sku, "upc": u.barcode, "productName": u.title,
         "returnReason": u.reason, "refundType": "original-payment",
         "inspectionOutcome": u.disposition if graded else "", "currency": "GBP",
         "price": money(u.price), "discount": money(u.discount), "tax": money(u.tax),
         "refundAmount": money(u.credit) if refunded else None,
         "refundedAt": ret.updated.isoformat() if refunded else None}
        for u in ret.units
    ]  # fmt: skip


def pallet(ret: SimReturn) -> dict:
    return {"event": "outbound_shipment_created", "webhookType": "outbound_shipment.asn",
            "poNumber": f"PO-{ret.id}", "palletNumber": f"PLT-{ret.id}",
            "carrier": "Simulated Freight", "tracking": f"TRK{ret.id}",
            "departureDate": ret.updated.isoformat(), "items": items(ret)}  # fmt: skip


class HappyReturnsDialect(Dialect):
    platform = "happy-returns"
    api_key_header = "X-Hr-Apikey"

    def webhook(self, ret, stage):
        if stage == "delivered":
            return [pallet(ret)]  # consolidated and shipped to the warehouse
        return [{"event": "return_status_updated", "typeID": TYPE_ID[stage],
                 "webhookType": "return.asn", "otherEvents": [], "items": items(ret)}]  # fmt: skip

    def api(self, sim, method, path, query, form):
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
