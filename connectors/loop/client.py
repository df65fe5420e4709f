"""Loop's REST API for the safety-net poll: the return list by ``updated_at`` window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from connectors.base.client import PlatformClient, Policy

PAGE_SIZE = 100  # Loop allows up to 750


class LoopClient(PlatformClient):
    # 300 requests a minute per key; a little under, for the webhooks' own lookups.
    policy = Policy(requests_per_second=4.5, burst=5)

    def headers(self) -> dict[str, str]:
        return {"X-Authorization": self.connection.api_key, "Accept": "application/json"}

    def changes(self, since: datetime, until: datetime) -> Iterator[tuple[str, dict]]:
        params = {"paginate": "true", "pageSize": PAGE_SIZE, "filter": "updated_at",
                  "from": since.isoformat(), "to": until.isoformat()}  # fmt: skip
        url: str | None = "/warehouse/return/list"
        while url:
            body = self.request("GET", url, params=params).json()
            params = None  # nextPageUrl carries the cursor and the window
            for ret in body.get("returns") or []:
                # The list shows the return as its webhooks do, without topic and trigger.
                yield "return.updated", {"topic": "return", "trigger": "return.updated", **ret}
            url = body.get("nextPageUrl")
