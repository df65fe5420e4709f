"""Happy Returns' partner API for the safety-net poll.

Happy Returns lists returns only by order number, email or express code, so
the poll asks again about the returns the hub still expects, and pages through
outbound shipments (pallets). The response shapes are modelled (unverified)
on the webhook items, and are read in this one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import httpx

from connectors.base.client import PlatformClient, Policy

PAGE_SIZE = 1000


class HappyReturnsClient(PlatformClient):
    # A leaky bucket of about one request every two seconds.
    policy = Policy(requests_per_second=0.5, burst=1)

    def headers(self) -> dict[str, str]:
        return {"X-Hr-Apikey": self.connection.api_key, "Accept": "application/json"}

    def wait_for(self, response: httpx.Response) -> float | None:
        """Happy Returns says how long to wait in the body, not always in Retry-After."""
        header = super().wait_for(response)
        if header is not None:
            return header
        match = re.search(r"(\d+(?:\.\d+)?)\s*(ms|milliseconds|s|seconds)?", response.text or "")
        if not match:
            return None
        value = float(match.group(1))
        return value / 1000 if (match.group(2) or "").startswith("m") else value

    def changes(self, since: datetime, until: datetime) -> Iterator[tuple[str, dict]]:
        yield from self._shipments(since)
        for order in self.open_orders():
            response = self.request("GET", "/returns", params={"orderNumber": order})
            if response.status_code == 204:
                continue
            body = response.json()
            items = body.get("items") or []
            if items:
                yield (
                    "return.asn",
                    {
                        "webhookType": "return.asn",
                        "typeID": body.get("typeID") or "status",
                        "items": items,
                    },
                )

    def _shipments(self, since: datetime) -> Iterator[tuple[str, dict]]:
        cursor = ""
        while True:
            params = {"page[size]": PAGE_SIZE, "departedSince": since.isoformat()}
            if cursor:
                params["page[after]"] = cursor
            body = self.request("GET", "/outbound-shipments", params=params).json()
            for shipment in body.get("data") or []:
                yield "outbound_shipment.asn", {"webhookType": "outbound_shipment.asn", **shipment}
            cursor = (body.get("meta") or {}).get("next") or ""
            if not cursor:
                return

    def open_orders(self) -> list[str]:
        """Order numbers of the returns the hub still expects from this connection."""
        from returns_hub.choices import ReturnState

        waiting = [ReturnState.EXPECTED, ReturnState.IN_TRANSIT, ReturnState.PARTLY_RECEIVED]
        return sorted(set(self.connection.returns.filter(state__in=waiting)
                          .exclude(order_ref="").values_list("order_ref", flat=True)))  # fmt: skip
