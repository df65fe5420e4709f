"""Reveni, simulated: enveloped webhooks (instant refunds) and the return list."""

from __future__ import annotations

from connectors.base.simulator import Dialect, SimReturn, money, parse_time

EVENT = {
    "opened": "return.created",
    "graded": "return.inspected",
    "refunded": "refund.instant_paid",
    "cancelled": "return.cancelled",
}
STATUS = {
    "opened": "created",
    "in_transit": "in_transit",
    "delivered": "received",
    "graded": "inspected",
    "refunded": "inspected",
    "cancelled": "cancelled",
    "expired": "cancelled",
}


def render(ret: SimReturn) -> dict:
    graded = ret.stage in ("graded", "refunded")
    paid = ret.stage == "refunded"
    return {
        "id": ret.id,
        "status": STATUS[ret.stage],
        "order_number": ret.order,
        "created_at": ret.created.isoformat(),
        "updated_at": ret.updated.isoformat(),
        "customer": {
            "email": ret.email,
            "first_name": ret.name.split()[0],
            "last_name": ret.name.split()[-1],
        },
        "address": {
            "line1": "1 Simulated Street",
            "city": "Leeds",
            "postcode": "LS1 1AA",
            "country_code": "GB",
        },
        "currency": "GBP",
        "items": [
            {
                "id": u.id,
                "sku": u.sku,
                "quantity": 1,
                "unit_price": money(u.price),
                "unit_discount": money(u.discount),
                "unit_tax": money(u.tax),
                "reason": u.reason,
                "condition": u.disposition if graded else None,
            }
            for u in ret.units
        ],
        "refund": {
            "id": f"rfd_{ret.id}",
            "status": "paid" if paid else "pending",
            "amount": money(ret.refund),
            "currency": "GBP",
            "provider_reference": f"FPS-{ret.id}" if paid else None,
        },
    }


class ReveniDialect(Dialect):
    platform = "reveni"
    # Reveni posts at refund with the reason's mapping; its grade comes later and changes nothing.
    problems = ("unknown_sku", "unmapped_reason", "value_mismatch", "unknown_customer")
    endings = {"cancelled": "cancelled", "expired": "cancelled"}

    def webhook(self, ret, stage):
        return [
            {
                "event_id": f"evt_{ret.id}_{stage}",
                "event": EVENT.get(stage, "return.updated"),
                "occurred_at": ret.updated.isoformat(),
                "store_id": "sim",
                "data": {"return": render(ret)},
            }
        ]

    def api(self, sim, method, path, query, form):
        if path != "/v1/returns":
            return 404, {"error": "no such endpoint"}
        rows = sim.listed(
            parse_time(query.get("updated_since")), parse_time(query.get("updated_until"))
        )
        page, cursor = sim.page(rows, query.get("cursor"))
        return 200, {"returns": [render(r) for r in page], "next_cursor": cursor}
