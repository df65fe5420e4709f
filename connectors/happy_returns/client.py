"""Happy Returns' partner API for the safety-net poll.

Happy Returns lists returns only by order number, email or express code, so
the poll asks again about the returns the hub still expects, and pages through
outbound shipments (pallets). The response shapes are modelled (unverified)
on the webhook items, and are read in this one place.
"""

from __future__ import annotations

import re
from datetime import datetime

import httpx

from connectors.base.client import Page, PlatformClient, Policy

PAGE_SIZE = 1000
# One lookup per order at about one request every two seconds: a page stays well
# inside the task timeout.
ORDERS_PER_PAGE = 10


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

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        """Pallets first (``shipments:<after>``), then the open returns, a few
        orders a page (``orders:<last order done>``)."""
        phase, _, after = cursor.partition(":")
        if phase != "orders":
            return self._shipments(since, after)
        orders = [order for order in self.open_orders() if order > after]
        batch = orders[:ORDERS_PER_PAGE]
        changes = [change for order in batch if (change := self._return(order))]
        more = len(orders) > len(batch)
        return Page(changes, f"orders:{batch[-1]}" if more else "")

    def _return(self, order: str) -> tuple[str, dict] | None:
        response = self.request("GET", "/returns", params={"orderNumber": order})
        if response.status_code == 204:
            return None
        body = response.json()
        items = body.get("items") or []
        if not items:
            return None
        typ = body.get("typeID") or "status"
        return "return.asn", {"webhookType": "return.asn", "typeID": typ, "items": items}

    def _shipments(self, since: datetime, after: str) -> Page:
        params = {"page[size]": PAGE_SIZE, "departedSince": since.isoformat()}
        if after:
            params["page[after]"] = after
        body = self.request("GET", "/outbound-shipments", params=params).json()
        changes = [
            ("outbound_shipment.asn", {"webhookType": "outbound_shipment.asn", **shipment})
            for shipment in body.get("data") or []
        ]
        following = (body.get("meta") or {}).get("next") or ""
        return Page(changes, f"shipments:{following}" if following else "orders:")

    def open_orders(self) -> list[str]:
        """Order numbers of the returns the hub still expects from this connection."""
        from returns_hub.choices import ReturnState

        waiting = [ReturnState.EXPECTED, ReturnState.IN_TRANSIT, ReturnState.PARTLY_RECEIVED]
        returns = self.connection.returns.filter(state__in=waiting).exclude(order_ref="")
        return sorted(set(returns.values_list("order_ref", flat=True)))
