"""Loop Returns, simulated: webhooks with the whole return, the return list API, and
the warehouse's return actions (process, flag)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote

from connectors.base.simulator import STEPS, Dialect, SimReturn, money, parse_time

LABEL = {
    "opened": "new",
    "in_transit": "in_transit",
    "delivered": "delivered",
    "graded": "delivered",
    "refunded": "delivered",
}
TRIGGER = {"opened": "return.created", "refunded": "return.closed"}
PAGE = 100
STATES = frozenset({"open", "closed", "expired", "cancelled", "review"})  # the list's state filter
LISTED_WITHOUT_STATE = frozenset({"open", "closed", "expired"})


def render(ret: SimReturn) -> dict:
    graded = ret.stage in ("graded", "refunded")
    # An exchanged unit is not refunded: a return of exchanges alone has no refund.
    refunded = ret.stage == "refunded" and ret.refund > 0
    state = {"refunded": "closed", "cancelled": "cancelled", "expired": "expired"}.get(
        ret.stage, "open"
    )
    return {
        "id": ret.id,
        "state": state,
        "created_at": ret.created.isoformat(),
        "edited_at": ret.updated.isoformat(),
        "order_name": f"#{ret.order}",
        "order_number": ret.order,
        "customer": ret.email,
        "customer_detail": {
            "email": ret.email,
            "first_name": ret.name.split()[0],
            "last_name": ret.name.split()[-1],
        },
        "address": {
            "address1": "1 Simulated Street",
            "city": "York",
            "zip": "YO1 7HH",
            "country_code": "GB",
        },
        "currency": "GBP",
        "refund": money(ret.refund),
        "gift_card": "0.00",
        "handling_fee": "0.00",
        "refunds": [
            {
                "gateway": "sim",
                "amount": money(ret.refund),
                "currency": "GBP",
                "provider_refund_id": f"R{ret.id}",
            }
        ]
        if refunded
        else [],
        "labels": []
        if ret.ending
        else [
            {
                "status": LABEL[ret.stage],
                "tracking_number": f"T{ret.id}",
                "updated_at": ret.updated.isoformat(),
                "line_items": [u.id for u in ret.units],
            }
        ],
        "line_items": [
            {
                "line_item_id": u.id,
                "sku": u.sku,
                "barcode": u.barcode,
                "title": u.title,
                "price": money(u.price),
                "discount": money(u.discount),
                "tax": money(u.tax),
                "return_reason": u.reason,
                "outcome": "exchange" if u.exchange else "refund",
                "condition_category": "grade_a" if graded else None,
                "disposition": u.disposition if graded else None,
                "graded_at": ret.updated.isoformat() if graded else None,
            }
            for u in ret.units
        ],
        "exchanges": [
            {
                "exchange_id": x.id,
                "sku": x.sku,
                "title": x.title,
                "price": money(u.price),
                "discount": money(u.discount),
                "tax": money(u.tax),
                "total": money(u.credit),
                "out_of_stock": False,  # as the shop sees it; Khaos decides
                "exchange_order_name": None,
            }
            for u, x in ret.exchanges
        ],
    }


class LoopDialect(Dialect):
    platform = "loop"
    api_key_header = "X-Authorization"
    # Reasons are not mapped for Loop (its grade gives the Khaos reason).
    problems = (
        "unknown_sku",
        "unmapped_disposition",
        "value_mismatch",
        "unknown_customer",
        "exchange_unavailable",
    )

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, dict]] = []  # every return action received
        self.flagged: set[str] = set()

    def webhook(self, ret, stage):
        return [{"topic": "return", "trigger": TRIGGER.get(stage, "return.updated"), **render(ret)}]

    def api(self, sim, method, path, query, form):
        if method == "POST" and (action := ACTION.match(path)):
            return return_action(sim, self, unquote(action[1]), action[2], form)
        if method != "GET" or path != "/warehouse/return/list":
            return 404, {"error": "no such endpoint"}
        state = query.get("state", "")
        if state and state not in STATES:
            invalid = {"state": ["The selected state is invalid."]}
            return 422, {"message": "The given data was invalid.", "errors": invalid}
        # As Loop: without state, only open, closed and expired returns are listed.
        wanted = {state} if state else LISTED_WITHOUT_STATE
        rows = sim.listed(parse_time(query.get("from")), parse_time(query.get("to")))
        rows = [r for r in rows if render(r)["state"] in wanted]
        size = min(int(query.get("pageSize", PAGE)), 750)
        start = int(query.get("cursor", 0))
        page = rows[start : start + size]
        more = start + size < len(rows)
        next_url = None
        if more:
            next_url = (
                f"{sim.base_url}/warehouse/return/list?paginate=true&pageSize={size}"
                f"&cursor={start + size}&filter=updated_at"
                f"&from={query.get('from', '')}&to={query.get('to', '')}"
            )
        return 200, {
            "returns": [render(r) for r in page],
            "nextPageUrl": next_url,
            "previousPageUrl": None,
        }


# --- Return actions (POST /warehouse/return/{id}/process|flag) ----------------------------

ACTION = re.compile(r"^/warehouse/return/([^/]+)/(process|flag)$")
# Loop's grading vocabulary (its Dispositioning API), which a process body may carry.
OUTCOMES = frozenset({"back_to_stock", "resale_hold", "recycle", "donate", "missing"})
CONDITIONS = frozenset(
    {"grade_a", "grade_b", "grade_c", "grade_d", "incorrect_item", "missing", "junk"}
)


def _error(status: int, message: str, code: str) -> tuple[int, dict]:
    return status, {"errors": {"message": message, "code": code}}


def _bad_lines(ret: SimReturn, body: dict) -> str:
    """Why the process body's line items cannot be used; "" when they can."""
    lines = body.get("line_items", [])
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        return "line_items must be a list of objects"
    ids = {u.id for u in ret.units}
    unknown = [str(line.get("line_item_id")) for line in lines]
    unknown = [uid for uid in unknown if uid not in ids]
    if unknown:
        return f"line items {', '.join(unknown)} are not part of return {ret.id}"
    for line in lines:
        outcome, category = line.get("disposition_outcome"), line.get("condition_category")
        if outcome is not None and outcome not in OUTCOMES:
            return f"disposition_outcome {outcome!r} is not one of {sorted(OUTCOMES)}"
        if category is not None and category not in CONDITIONS:
            return f"condition_category {category!r} is not one of {sorted(CONDITIONS)}"
    return ""


def return_action(sim, dialect, rid: str, action: str, body: dict) -> tuple[int, object]:
    """Process or flag a return, as Loop does: answer "true" at once, and send the
    return's webhooks once its background processing is done (the refund on
    ``return.closed``; a flagged return waits in ``review`` for a person at Loop)."""
    dialect.writes.append((action, rid, body))
    ret = sim.returns.get(rid)
    if ret is None:
        return _error(404, f"Return {rid} was not found.", "NOT_FOUND")
    if "_invalid" in body:
        return _error(400, body["_invalid"], "UNEXPECTED_ERROR")
    if ret.ending or STEPS[ret.step] == "refunded":
        state = ret.ending or "closed"
        return _error(422, f"Return is {state} and cannot be processed.", "UNPROCESSABLE_RETURN")
    if ret.id in dialect.flagged and action == "process":
        return _error(422, "Flagged returns cannot be processed.", "UNPROCESSABLE_FLAGGED_RETURN")
    problem = _bad_lines(ret, body) if action == "process" else ""
    if problem:
        return _error(422, problem, "UNPROCESSABLE_RETURN")
    ret.updated = datetime.now(UTC).replace(microsecond=0)
    ret.held = True  # the warehouse decided: the simulated story stops here
    if action == "flag":
        dialect.flagged.add(ret.id)
        review = {"topic": "return", "trigger": "return.updated", **render(ret)}
        sim.later([{**review, "state": "review"}])
        return 200, "true"
    ret.step = STEPS.index("refunded")
    sim.later(dialect.webhook(ret, "refunded"))  # return.closed, with the refund
    return 200, "true"
