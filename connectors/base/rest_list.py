"""One configurable client for platforms whose list API is not public yet.

Reveni and Swap poll through it: the path, the window and page parameters,
where the list and the next page are in the answer, and how a listed return
is wrapped as a webhook are settings (defaults per platform, overridable in
the connection's ``options["api"]``), so real names drop in without code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base.client import Page, PlatformClient, Policy


@dataclass(frozen=True)
class ListShape:
    path: str = "/returns"
    since_param: str = "updated_since"
    until_param: str = "updated_until"
    cursor_param: str = "cursor"
    items_key: str = "returns"
    next_key: str = "next_cursor"
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer "
    extra_headers: dict = field(default_factory=dict)
    topic: str = "return.updated"


class RestListClient(PlatformClient):
    policy = Policy(requests_per_second=2.0, burst=2)
    shape = ListShape()
    # A listed return → the webhook body its parser reads.
    wrap: Callable[[dict, ListShape], dict] = staticmethod(lambda ret, shape: ret)

    def __init__(self, connection, **kwargs) -> None:
        super().__init__(connection, **kwargs)
        overrides = (connection.options or {}).get("api") or {}
        self.shape = replace(self.shape, **overrides)

    def headers(self) -> dict[str, str]:
        key = self.connection.api_key
        return {
            self.shape.auth_header: f"{self.shape.auth_scheme}{key}",
            "Accept": "application/json",
            **self.shape.extra_headers,
        }

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        params = {
            self.shape.since_param: since.isoformat(),
            self.shape.until_param: until.isoformat(),
        }
        if cursor:
            params[self.shape.cursor_param] = cursor
        body = self.request("GET", self.shape.path, params=params).json()
        changes = [
            (self.shape.topic, self.wrap(ret, self.shape))
            for ret in body.get(self.shape.items_key) or []
        ]
        return Page(changes, str(body.get(self.shape.next_key) or ""))
