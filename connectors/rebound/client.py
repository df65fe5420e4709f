"""ReBound's RPC API for the safety-net poll: form-encoded POSTs, JSON answers.

Each call sends ``login``, ``api_key`` and ``request`` (URL-encoded JSON) and
gets ``{"success": …}`` or ``{"error": {"code": …}}``.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.utils import timezone

from connectors.base.client import (
    Page,
    PermanentFailure,
    PlatformClient,
    Policy,
    TemporaryFailure,
)

RETURNS_PER_PAGE = 25  # one lookup each, at two a second


class ReboundClient(PlatformClient):
    policy = Policy(requests_per_second=2.0, burst=2)

    def call(self, path: str, request: dict) -> object:
        options = self.connection.options or {}
        form = {
            "login": options.get("login", ""),
            "api_key": self.connection.api_key,
            "request": json.dumps(request),
        }
        body = self.request("POST", path, data=form).json()
        if "error" in body:
            code = (body.get("error") or {}).get("code")
            message = f"ReBound {path} answered error {code}"
            raise (PermanentFailure if code in (401, 403, "auth") else TemporaryFailure)(message)
        return body.get("success")

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        """The window's returns after ``cursor`` (the last return id done), a few a page."""
        window = {
            "filter": {
                "date_from": since.strftime("%Y/%m/%d"),
                "date_to": until.strftime("%Y/%m/%d"),
            }
        }
        found = self.call("/returns/search/json", window) or {}
        originals = {str(i): i for i in found.get("id") or []}  # asked for as listed
        ids = sorted(originals, key=_order)
        todo = [i for i in ids if not cursor or _order(i) > _order(cursor)]
        batch = todo[:RETURNS_PER_PAGE]
        changes = []
        for return_id in batch:
            wanted = {"return": {"id": originals[return_id], "type": "id"}}
            ret = self.call("/returns/get/json", wanted)
            if not isinstance(ret, dict):
                continue
            final = any((item or {}).get("final_disposition") for item in ret.get("item") or [])
            event = "final_disposition" if final else "tracking_updated"
            sent = timezone.now().isoformat()
            changes.append((event, {"event": event, "sent_at": sent, "return": ret}))
        return Page(changes, batch[-1] if len(todo) > len(batch) else "")


def _order(return_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order, so a cursor of the last id done moves forward."""
    return len(return_id), return_id
