"""ReBound's RPC API for the safety-net poll: form-encoded POSTs, JSON answers.

Each call sends ``login``, ``api_key`` and ``request`` (URL-encoded JSON) and
gets ``{"success": …}`` or ``{"error": {"code": …}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

from connectors.base.client import PermanentFailure, PlatformClient, Policy, TemporaryFailure


class ReboundClient(PlatformClient):
    policy = Policy(requests_per_second=2.0, burst=2)

    def call(self, path: str, request: dict) -> object:
        options = self.connection.options or {}
        form = {"login": options.get("login", ""), "api_key": self.connection.api_key,
                "request": json.dumps(request)}  # fmt: skip
        body = self.request("POST", path, data=form).json()
        if "error" in body:
            code = (body.get("error") or {}).get("code")
            message = f"ReBound {path} answered error {code}"
            raise (PermanentFailure if code in (401, 403, "auth") else TemporaryFailure)(message)
        return body.get("success")

    def changes(self, since: datetime, until: datetime) -> Iterator[tuple[str, dict]]:
        window = {"filter": {"date_from": since.strftime("%Y/%m/%d"),
                             "date_to": until.strftime("%Y/%m/%d")}}  # fmt: skip
        found = self.call("/returns/search/json", window) or {}
        for return_id in found.get("id") or []:
            ret = self.call("/returns/get/json", {"return": {"id": return_id, "type": "id"}})
            if not isinstance(ret, dict):
                continue
            final = any((item or {}).get("final_disposition") for item in ret.get("item") or [])
            event = "final_disposition" if final else "tracking_updated"
            yield event, {"event": event, "sent_at": timezone.now().isoformat(), "return": ret}
