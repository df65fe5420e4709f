"""Telling Loop the warehouse's grades: process the return, or flag it for review.

Loop's Returns API (docs.loopreturns.com, "Return Actions"; header ``X-Authorization``):

- ``POST /warehouse/return/{id}/process`` archives the return and fulfils its
  outcomes (the refund, exchange orders, gift cards). Documented: the body is an
  optional JSON object whose values Loop adds to the resulting Shopify orders as
  "Additional Details" and as a note on the return's timeline; a return that is
  not processable answers an ``errors`` object (``UNPROCESSABLE_RETURN``,
  ``UNPROCESSABLE_FLAGGED_RETURN``). Processing is queued: Loop's webhooks
  (``return.closed`` with the refund) follow.
- ``POST /warehouse/return/{id}/flag`` stops automated processing for a person
  at Loop to review; no body is documented.

The hub's body for ``process`` names each graded line with the field names of
Loop's Dispositioning API (``line_item_id``, ``condition_category``,
``disposition_outcome``, ``return_processor``, ``inspected_at`` as
``"2024-03-31 23:59:59"`` in the connection's time zone). Whether Loop reads grades
from the process body (rather than only recording them) is not verified; the
grades are recorded on Loop's timeline either way, and the process call is what
makes Loop refund.

Mapping the hub's codes to Loop's vocabulary (first that applies):
``disposition_outcome`` — the hub's disposition when it is one of Loop's, else the
connection's ``options["write_back"]["dispositions"]``, else by the disposition
table's stock action (restock → back_to_stock, quarantine → resale_hold,
write_off → recycle); ``condition_category`` — the hub's condition (or disposition)
when it is one of Loop's, else ``options["write_back"]["conditions"]``, else left
out. A unit whose outcome is ``missing`` or whose condition is ``incorrect_item`` or
``missing`` (or whose disposition is listed in ``options["write_back"]["flag"]``) is
a problem: the return is flagged instead of processed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.base.client import PermanentFailure, Policy
from connectors.base.writeback import Call, Writer

DISPOSITIONS = frozenset({"back_to_stock", "resale_hold", "recycle", "donate", "missing"})
CONDITIONS = frozenset(
    {"grade_a", "grade_b", "grade_c", "grade_d", "incorrect_item", "missing", "junk"}
)
BY_STOCK_ACTION = {"restock": "back_to_stock", "quarantine": "resale_hold", "write_off": "recycle"}
PROBLEM_DISPOSITIONS = frozenset({"missing"})
PROBLEM_CONDITIONS = frozenset({"incorrect_item", "missing"})
# Loop has processed, cancelled or expired the return itself: nothing to tell it.
ENDED = frozenset({"closed", "cancelled", "expired"})


class LoopWriter(Writer):
    platform = "loop"
    default_base_url = "https://api.loopreturns.com/api/v1"
    auth_header = "X-Authorization"
    # 300 requests a minute per key, shared with the polls: a little under.
    policy = Policy(requests_per_second=4.5, burst=5)

    def plan(self, units: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> str:
        if context.get("platform_state") in ENDED:
            return ""
        options = (context.get("options") or {}).get("write_back") or {}
        graded = [u for u in units if u["state"] == "graded"]
        if not graded:
            return ""
        return "flag" if any(self.problem(u, options) for u in graded) else "process"

    def problem(self, unit: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
        return (
            self.disposition(unit, options) in PROBLEM_DISPOSITIONS
            or self.condition(unit, options) in PROBLEM_CONDITIONS
            or unit["disposition"] in (options.get("flag") or ())
        )

    @staticmethod
    def disposition(unit: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        code = unit["disposition"]
        if code in DISPOSITIONS:
            return code
        mapped = (options.get("dispositions") or {}).get(code)
        if mapped in DISPOSITIONS:
            return mapped
        return BY_STOCK_ACTION.get(unit["stock_action"], "")

    @staticmethod
    def condition(unit: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        for code in (unit["condition"], unit["disposition"]):
            if code in CONDITIONS:
                return code
        mapped = (options.get("conditions") or {}).get(unit["condition"] or unit["disposition"])
        return mapped if mapped in CONDITIONS else ""

    def call(self, row, connection) -> Call:
        payload = row.payload
        rid = quote(str(payload["return"]["external_id"]), safe="")
        if row.kind == "flag":
            return Call("POST", f"/warehouse/return/{rid}/flag")
        if row.kind != "process":
            raise PermanentFailure(f"Loop has no write-back of kind {row.kind!r}")
        options = self.options(connection)
        lines = [
            self.line(unit, options, connection)
            for unit in payload["units"]
            if unit["state"] == "graded"
        ]
        body = {"hub_reference": payload["return"]["associated_ref"], "line_items": lines}
        return Call("POST", f"/warehouse/return/{rid}/process", body)

    def line(self, unit: Mapping[str, Any], options: Mapping[str, Any], connection) -> dict:
        uid = str(unit["external_id"])
        line: dict[str, Any] = {"line_item_id": int(uid) if uid.isdigit() else uid}
        if outcome := self.disposition(unit, options):
            line["disposition_outcome"] = outcome
        if category := self.condition(unit, options):
            line["condition_category"] = category
        if processor := options.get("return_processor"):
            line["return_processor"] = str(processor)[:100]
        if unit.get("graded_at"):
            at = datetime.fromisoformat(unit["graded_at"]).astimezone(connection.zone)
            line["inspected_at"] = at.strftime("%Y-%m-%d %H:%M:%S")
        line["note"] = f"Graded {unit['disposition']!r} on the returns hub" + (
            f" by {unit['graded_by']}" if unit.get("graded_by") else ""
        )
        return line

    def refused(self, response: httpx.Response) -> str:
        """Loop answers a return it cannot process with an ``errors`` object."""
        try:
            body = response.json()
        except ValueError:
            return ""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors:
            return ""
        if isinstance(errors, dict):
            return f"{errors.get('code', '')} {errors.get('message', '')}".strip()
        return str(errors)[:300]


writer = LoopWriter()
