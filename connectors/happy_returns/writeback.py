"""Telling Happy Returns the warehouse's grades: approve each item with its condition.

Happy Returns' partner API lists "Approve Return — approve mail returns via API upon
receipt and inspection" (developer.happyreturns.com; header ``X-Hr-Apikey``). Its
body, as public client code calls it: ``returning[{happyReturnsItemID, approve,
condition}]`` with ``condition`` one of ``sellable``, ``damaged``, ``missing``,
``wrong-item``; every item approved is **refunded** (there is no undo through the
API). The path is not in the stored documentation: the default
``/returns/{id}/approve`` (``{id}`` the Happy Returns return id) is modelled, and a
connection's ``options["write_back"]["approve_path"]`` overrides it.

The condition of each unit (first that applies): the hub's disposition or condition
when it is one of Happy Returns' own, else ``options["write_back"]["conditions"]``
(hub code → condition), else by the disposition table's stock action (restock →
sellable, quarantine and write_off → damaged). A unit none of these maps is not
guessed: the call is refused before it is made (the data team maps the code).
Items are approved (refunded) when their condition is ``sellable`` or ``damaged``
(``options["write_back"]["approve"]`` lists others); ``missing`` and ``wrong-item``
are sent unapproved.

The rate limit is a leaky bucket of about 0.5 requests a second; a 429 says how
long to wait in its body ("… leaky bucket size X": wait X seconds), not always in
``Retry-After``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from connectors.base.client import PermanentFailure, Policy, retry_after
from connectors.base.writeback import Call, Writer

CONDITIONS = ("sellable", "damaged", "missing", "wrong-item")
BY_STOCK_ACTION = {"restock": "sellable", "quarantine": "damaged", "write_off": "damaged"}
APPROVED = ("sellable", "damaged")
APPROVE_PATH = "/returns/{id}/approve"
BUCKET = re.compile(r"bucket size\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|seconds)", re.IGNORECASE)


class HappyReturnsWriter(Writer):
    platform = "happy-returns"
    default_base_url = "https://partner.happyreturns.com"
    auth_header = "X-Hr-Apikey"
    policy = Policy(requests_per_second=0.5, burst=1)

    def plan(self, units: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> str:
        return "approve" if any(u["state"] == "graded" for u in units) else ""

    @staticmethod
    def condition(unit: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        for code in (unit["disposition"], unit["condition"]):
            if code in CONDITIONS:
                return code
        mapped = (options.get("conditions") or {}).get(unit["disposition"])
        if mapped in CONDITIONS:
            return mapped
        return BY_STOCK_ACTION.get(unit["stock_action"], "")

    def call(self, row, connection) -> Call:
        if row.kind != "approve":
            raise PermanentFailure(f"Happy Returns has no write-back of kind {row.kind!r}")
        options = self.options(connection)
        approved = set(options.get("approve") or APPROVED)
        returning, unmapped = [], []
        for unit in row.payload["units"]:
            if unit["state"] != "graded":
                continue
            condition = self.condition(unit, options)
            if not condition:
                unmapped.append(f"{unit['external_id']} ({unit['disposition']!r})")
                continue
            returning.append(
                {
                    "happyReturnsItemID": unit["external_id"],
                    "approve": condition in approved,
                    "condition": condition,
                }
            )
        if unmapped:
            raise PermanentFailure(
                "no Happy Returns condition for the grade of unit(s) "
                f"{', '.join(unmapped)}: map the code in the disposition table, or in the "
                'connection\'s options["write_back"]["conditions"]'
            )
        path = str(options.get("approve_path") or APPROVE_PATH)
        rid = quote(str(row.payload["return"]["external_id"]), safe="")
        return Call("POST", path.replace("{id}", rid), {"returning": returning})

    def wait_for(self, response: httpx.Response) -> float | None:
        """Retry-After when sent; else the body's "leaky bucket size X" (X seconds)."""
        header = retry_after(response)
        if header is not None:
            return header
        text = response.text or ""
        for pattern in (BUCKET, SECONDS):
            if match := pattern.search(text):
                return float(match.group(1))
        return None


writer = HappyReturnsWriter()
