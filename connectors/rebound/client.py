"""ReBound's RPC API for the safety-net poll: form-encoded POSTs, JSON answers.

Each call sends ``login``, ``api_key`` and ``request`` (URL-encoded JSON) and
gets ``{"success": …}`` or ``{"error": {"code": …}}``. A search that finds
nothing answers ``{"error": {"code": "empty"}}``: that is no returns, not a
failure (as tap-rebound reads it).

A polled return is stored as ``{"event", "return"}`` and nothing else: no time
of the poll, so a return polled again unchanged is the same body, and the
inbox's key (a digest of it) recognises it. The big base64 ``label`` the answer
carries is left out, as tap-rebound does.
"""

from __future__ import annotations

import json
from datetime import datetime

from connectors.base.client import (
    Page,
    PermanentFailure,
    PlatformClient,
    Policy,
    TemporaryFailure,
)

RETURNS_PER_PAGE = 25  # one lookup each, at two a second
EMPTY = "empty"  # the error code of a search that found nothing
REFUSED = {401, 403, "401", "403", "auth"}  # codes that mean the credentials are wrong
NOT_STORED = ("label",)  # a base64 shipping label: large, and no part of the return's state


class ReboundClient(PlatformClient):
    policy = Policy(requests_per_second=2.0, burst=2)

    def call(self, path: str, request: dict) -> object:
        """The ``success`` part of the answer; None for an ``empty`` one."""
        options = self.connection.options or {}
        form = {
            "login": options.get("login", ""),
            "api_key": self.connection.api_key,
            "request": json.dumps(request),
        }
        try:
            body = self.request("POST", path, data=form).json()
        except ValueError:
            raise TemporaryFailure(f"ReBound {path} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise TemporaryFailure(f"ReBound {path} answered {type(body).__name__}, not an object")
        if "error" in body:
            error = body.get("error")
            code = error.get("code") if isinstance(error, dict) else error
            if code == EMPTY:
                return None
            message = f"ReBound {path} answered error {code}"
            raise (PermanentFailure if code in REFUSED else TemporaryFailure)(message)
        return body.get("success")

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        """The window's returns after ``cursor`` (the last return id done), a few a page."""
        window = {
            "filter": {
                "date_from": since.strftime("%Y/%m/%d"),
                "date_to": until.strftime("%Y/%m/%d"),
            }
        }
        found = self.call("/returns/search/json", window)
        listed = (found.get("id") if isinstance(found, dict) else None) or []
        if not isinstance(listed, list):
            raise TemporaryFailure(f"ReBound's search answered ids as {type(listed).__name__}")
        originals = {str(i): i for i in listed}  # asked for as listed
        ids = sorted(originals, key=_order)
        todo = [i for i in ids if not cursor or _order(i) > _order(cursor)]
        batch = todo[:RETURNS_PER_PAGE]
        changes = []
        for return_id in batch:
            wanted = {"return": {"id": originals[return_id], "type": "id"}}
            ret = self.call("/returns/get/json", wanted)
            if not isinstance(ret, dict):
                continue
            ret = {k: v for k, v in ret.items() if k not in NOT_STORED}
            items = ret.get("item") if isinstance(ret.get("item"), list) else []
            final = any(isinstance(i, dict) and i.get("final_disposition") for i in items)
            event = "final_disposition" if final else "tracking_updated"
            changes.append((event, {"event": event, "return": ret}))
        return Page(changes, batch[-1] if len(todo) > len(batch) else "")


def _order(return_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order, so a cursor of the last id done moves forward."""
    return len(return_id), return_id
