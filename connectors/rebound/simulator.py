"""ReBound Returns, simulated: milestone webhooks, final dispositions, and the RPC API.

Returns are answered as ReBound's ``/returns/get`` does (tap-rebound's schema):
every field a string (``id`` "12", ``quantity`` "1", ``price`` "59.00"), no
``currency_code``, ``date_added`` without a zone (London time, as connections
read it by default), and a base64 ``label``. A search that finds nothing answers
``{"error": {"code": "empty"}}``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base.simulator import Dialect, SimReturn

MILESTONE = {
    "opened": "Return Order Created",
    "in_transit": "Entered Our Network",
    "delivered": "Delivered",
    "graded": "Delivered",
    "refunded": "Delivered",
}
GRADE = {"restock": "restocked"}
# ReBound's times carry no zone; the simulator writes them in the zone a connection
# reads them in by default (a dialect's ``zone`` may say another).
LONDON = ZoneInfo("Europe/London")
LABEL = base64.b64encode(b"%PDF-1.4 simulated label").decode()


def local(moment: datetime, zone: ZoneInfo = LONDON) -> str:
    """A moment as ReBound writes it: "2019-05-01 10:00:00", no zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def return_id(ret: SimReturn) -> str:
    return str(int(ret.id[3:]))


def render(ret: SimReturn, zone: ZoneInfo = LONDON) -> dict:
    final = ret.stage in ("graded", "refunded")
    return {
        "id": return_id(ret),
        "order_reference": ret.order,
        "date_added": local(ret.created, zone),
        "display_id": f"SIM{return_id(ret)}",
        "external_id": f"{ret.order}-R1",
        "name": ret.name,
        "company_name": "",
        "email": ret.email,
        "phone": "",
        "addr1": "1 Simulated Street",
        "addr2": "",
        "addr3": "",
        "city": "Hull",
        "state": "",
        "zip": "HU1 1AA",
        "country": "GB",
        "tracking": f"SIM{return_id(ret)}GB",
        "tracking_last_update": local(ret.updated, zone),
        "current_tracking_status": MILESTONE.get(ret.stage, "Return Order Created"),
        "carrier": "Royal Mail",
        "label": LABEL,
        "item": [
            {
                "sku_code": u.sku,
                "sku_desc": u.title,
                "quantity": "1",
                "price": f"{u.credit:.2f}",
                "weight": "0.5",
                "weight_uom": "kg",
                "country_code": "GB",
                "final_disposition": u.disposition if final else "",
                "reason": [{"action": "Refund", "reason": u.reason, "wish": "Refund"}],
            }
            for u in ret.units
        ],
    }


class ReboundDialect(Dialect):
    platform = "rebound"
    # ReBound reports no refund and no exchange: neither can differ.
    problems = ("unknown_sku", "unmapped_disposition", "unknown_customer")
    endings = {"cancelled": None, "expired": None}
    zone = LONDON

    def authorised(self, headers, form, api_key):
        return bool(api_key) and form.get("api_key") == api_key

    def webhook(self, ret, stage):
        if stage in ("refunded", "cancelled", "expired"):
            return []  # ReBound reports neither refunds nor cancellations
        event = {"opened": "return_created", "graded": "final_disposition"}.get(
            stage, "tracking_updated"
        )
        return [
            {"event": event, "sent_at": ret.updated.isoformat(), "return": render(ret, self.zone)}
        ]

    def api(self, sim, method, path, query, form):
        request = json.loads(form.get("request") or "{}")
        if path == "/returns/search/json":
            ids = [return_id(r) for r in sim.listed()]
            if not ids:
                return 200, {"error": {"code": "empty"}}
            return 200, {"success": {"id": ids}}
        if path == "/returns/get/json":
            wanted = str((request.get("return") or {}).get("id"))
            for ret in sim.returns.values():
                if return_id(ret) == wanted.lstrip("0"):
                    return 200, {"success": render(ret, self.zone)}
            return 200, {"error": {"code": "404"}}
        return 404, {"error": "no such endpoint"}
