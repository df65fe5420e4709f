"""ReBound Returns, simulated: milestone webhooks, final dispositions, and the RPC API."""

from __future__ import annotations

import json

from connectors.base.simulator import Dialect, SimReturn

MILESTONE = {"opened": "Return Order Created", "in_transit": "Entered Our Network",
             "delivered": "Delivered", "graded": "Delivered", "refunded": "Delivered"}  # fmt: skip
GRADE = {"restock": "restocked"}


def render(ret: SimReturn) -> dict:
    final = ret.stage in ("graded", "refunded")
    return {
        "id": int(ret.id[3:]), "order_reference": ret.order, "date_added": ret.created.isoformat(),
        "name": ret.name, "email": ret.email, "addr1": "1 Simulated Street", "city": "Hull",
        "zip": "HU1 1AA", "country": "GB", "currency_code": "GBP",
        "current_tracking_status": MILESTONE.get(ret.stage, "Return Order Created"),
        "item": [{"sku_code": u.sku, "sku_desc": u.title, "quantity": 1,
                  "price": f"{u.credit:.2f}", "final_disposition": u.disposition if final else "",
                  "reason": [{"action": "Refund", "reason": u.reason}]} for u in ret.units],
    }  # fmt: skip


class ReboundDialect(Dialect):
    platform = "rebound"
    endings = {"cancelled": None, "expired": None}

    def authorised(self, headers, form, api_key):
        return bool(api_key) and form.get("api_key") == api_key

    def webhook(self, ret, stage):
        if stage in ("refunded", "cancelled", "expired"):
            return []  # ReBound reports neither refunds nor cancellations
        event = {"opened": "return_created", "graded": "final_disposition"}.get(
            stage, "tracking_updated")  # fmt: skip
        return [{"event": event, "sent_at": ret.updated.isoformat(), "return": render(ret)}]

    def api(self, sim, method, path, query, form):
        request = json.loads(form.get("request") or "{}")
        if path == "/returns/search/json":
            return 200, {"success": {"id": [int(r.id[3:]) for r in sim.listed()]}}
        if path == "/returns/get/json":
            wanted = str((request.get("return") or {}).get("id"))
            for ret in sim.returns.values():
                if ret.id[3:].lstrip("0") == wanted.lstrip("0"):
                    return 200, {"success": render(ret)}
            return 200, {"error": {"code": 404}}
        return 404, {"error": "no such endpoint"}
