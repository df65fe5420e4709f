"""Loop Returns, simulated: webhooks with the whole return, and the return list API."""

from __future__ import annotations

from connectors.base.simulator import Dialect, SimReturn, money, parse_time

LABEL = {"opened": "new", "in_transit": "in_transit", "delivered": "delivered",
         "graded": "delivered", "refunded": "delivered"}  # fmt: skip
TRIGGER = {"opened": "return.created", "refunded": "return.closed"}
PAGE = 100


def render(ret: SimReturn) -> dict:
    graded = ret.stage in ("graded", "refunded")
    refunded = ret.stage == "refunded"
    state = {"refunded": "closed", "cancelled": "cancelled", "expired": "expired"}.get(
        ret.stage, "open")  # fmt: skip
    return {
        "id": ret.id, "state": state, "created_at": ret.created.isoformat(),
        "edited_at": ret.updated.isoformat(), "order_name": f"#{ret.order}",
        "order_number": ret.order, "customer": ret.email,
        "customer_detail": {"email": ret.email, "first_name": ret.name.split()[0],
                            "last_name": ret.name.split()[-1]},
        "address": {"address1": "1 Simulated Street", "city": "York", "zip": "YO1 7HH",
                    "country_code": "GB"},
        "currency": "GBP", "refund": money(ret.credit), "gift_card": "0.00",
        "handling_fee": "0.00",
        "refunds": [{"gateway": "sim", "amount": money(ret.credit), "currency": "GBP",
                     "provider_refund_id": f"R{ret.id}"}] if refunded else [],
        "labels": [] if ret.ending else [{
            "status": LABEL[ret.stage], "tracking_number": f"T{ret.id}",
            "updated_at": ret.updated.isoformat(), "line_items": [u.id for u in ret.units]}],
        "line_items": [
            {"line_item_id": u.id, "sku": u.sku, "barcode": u.barcode, "title": u.title,
             "price": money(u.price), "discount": money(u.discount), "tax": money(u.tax),
             "return_reason": u.reason, "outcome": "refund",
             "condition_category": "grade_a" if graded else None,
             "disposition": u.disposition if graded else None,
             "graded_at": ret.updated.isoformat() if graded else None}
            for u in ret.units
        ],
        "exchanges": [],
    }  # fmt: skip


class LoopDialect(Dialect):
    platform = "loop"
    api_key_header = "X-Authorization"

    def webhook(self, ret, stage):
        return [{"topic": "return", "trigger": TRIGGER.get(stage, "return.updated"), **render(ret)}]

    def api(self, sim, method, path, query, form):
        if method != "GET" or path != "/warehouse/return/list":
            return 404, {"error": "no such endpoint"}
        rows = sim.listed(parse_time(query.get("from")), parse_time(query.get("to")))
        size = min(int(query.get("pageSize", PAGE)), 750)
        start = int(query.get("cursor", 0))
        page = rows[start : start + size]
        more = start + size < len(rows)
        next_url = None
        if more:
            next_url = (f"{sim.base_url}/warehouse/return/list?paginate=true&pageSize={size}"
                        f"&cursor={start + size}&filter=updated_at"
                        f"&from={query.get('from', '')}&to={query.get('to', '')}")  # fmt: skip
        return 200, {"returns": [render(r) for r in page], "nextPageUrl": next_url,
                     "previousPageUrl": None}  # fmt: skip
