"""Swap Commerce, simulated: enveloped webhooks in minor units, and the return list.

Its webhooks are signed as the connection's ``auth`` option says (see
connectors/swap/webhooks.py): by default a fresh HS256 JWT in ``Authorization``
bound to the body, or with ``"auth": "hmac"`` the hex HMAC in ``X-Swap-Signature``;
the engine signs with ``connector.signature_for(connection.options)``.
"""

from __future__ import annotations

from connectors.base.simulator import STEPS, Dialect, SimReturn, parse_time

STATUS = {
    "opened": "created",
    "in_transit": "in_transit",
    "delivered": "delivered",
    "graded": "inspected",
    "refunded": "refunded",
    "cancelled": "cancelled",
    "expired": "cancelled",
}
SHIPPING = {"created": "Pre-Transit", "in_transit": "In-Transit"}


def minor(value) -> int:
    return int(value * 100)


def render(ret: SimReturn) -> dict:
    reached = [STATUS[s] for s in STEPS[: ret.step + 1]] + (
        [STATUS[ret.ending]] if ret.ending else []
    )
    graded = ret.stage in ("graded", "refunded")
    return {
        "return_id": ret.id,
        "order_number": f"#{ret.order}",
        "status": STATUS[ret.stage],
        "shipping_status": SHIPPING.get(STATUS[ret.stage], "Delivered"),
        "return_type": "Exchange" if ret.exchanges else "Refund",
        "created_at": ret.created.isoformat(),
        "updated_at": ret.updated.isoformat(),
        "status_history": [{"status": s, "at": ret.updated.isoformat()} for s in reached],
        "customer": {
            "email": ret.email,
            "first_name": ret.name.split()[0],
            "last_name": ret.name.split()[-1],
        },
        "shipping_address": {
            "address1": "1 Simulated Street",
            "city": "Bath",
            "zip": "BA1 1AA",
            "country_code": "GB",
        },
        "currency": "GBP",
        "items": [
            {
                "line_id": u.id,
                "sku": u.sku,
                "title": u.title,
                "quantity": 1,
                "unit_price_minor": minor(u.price),
                "unit_discount_minor": minor(u.discount),
                "unit_tax_minor": minor(u.tax),
                "reason": u.reason,
                "disposition": u.disposition if graded else None,
                "inspected_at": ret.updated.isoformat() if graded else None,
            }
            for u in ret.units
        ],
        "exchange_items": [
            {
                "replaces_line_id": u.id,
                "sku": x.sku,
                "title": x.title,
                "quantity": 1,
                "unit_price_minor": minor(u.price),
                "unit_tax_minor": minor(u.tax),
                "in_stock": True,  # as the shop sees it; Khaos decides
            }
            for u, x in ret.exchanges
        ],
        "refund": {
            "status": "not_applicable"
            if ret.refund == 0
            else ("refunded" if ret.stage == "refunded" else "pending"),
            "amount_minor": minor(ret.refund),
            "reference": f"SWR-{ret.id}",
        },
        "credit": None,
    }


class SwapDialect(Dialect):
    platform = "swap"
    problems = (
        "unknown_sku",
        "unmapped_disposition",
        "value_mismatch",
        "unknown_customer",
        "exchange_unavailable",
    )
    endings = {"cancelled": "cancelled", "expired": "cancelled"}
    api_key_header = "X-Api-Key"

    def webhook(self, ret, stage):
        event = {
            "opened": "return.created",
            "graded": "return.processed",
            "cancelled": "return.cancelled",
        }.get(stage, "return.updated")
        return [
            {
                "id": f"whe_{ret.id}_{stage}",
                "event": event,
                "created_at": ret.updated.isoformat(),
                "shop": "sim",
                "data": render(ret),
            }
        ]

    def api(self, sim, method, path, query, form):
        if path != "/api/returns":
            return 404, {"error": "no such endpoint"}
        rows = sim.listed(
            parse_time(query.get("updated_at_min")), parse_time(query.get("updated_at_max"))
        )
        page, cursor = sim.page(rows, query.get("page_info"))
        return 200, {"returns": [render(r) for r in page], "next_cursor": cursor}
