"""Loop's REST API for the safety-net poll: the return list by ``updated_at`` window."""

from __future__ import annotations

from datetime import datetime

from connectors.base.client import Page, PlatformClient, Policy

PAGE_SIZE = 100  # Loop allows up to 750
LIST = "/warehouse/return/list"


class LoopClient(PlatformClient):
    # 300 requests a minute per key; a little under, for the webhooks' own lookups.
    policy = Policy(requests_per_second=4.5, burst=5)

    def headers(self) -> dict[str, str]:
        return {"X-Authorization": self.connection.api_key, "Accept": "application/json"}

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        if cursor:
            body = self.request("GET", cursor).json()  # nextPageUrl carries the window
        else:
            params = {
                "paginate": "true",
                "pageSize": PAGE_SIZE,
                "filter": "updated_at",
                "from": since.isoformat(),
                "to": until.isoformat(),
            }
            body = self.request("GET", LIST, params=params).json()
        # The list shows the return as its webhooks do, without topic and trigger.
        changes = [
            ("return.updated", {"topic": "return", "trigger": "return.updated", **ret})
            for ret in body.get("returns") or []
        ]
        return Page(changes, body.get("nextPageUrl") or "")
