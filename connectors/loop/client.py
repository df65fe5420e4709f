"""Loop's REST API for the safety-net poll: the return list by ``updated_at`` window.

Without ``state`` the list answers only open, closed and expired returns, and
cancelled and review returns are how a missed cancellation is caught, so the
poll asks for every state. Loop documents ``state`` as one string; whether it
takes several at once is not public. A window is therefore asked for with all
of them at once (``state=open,closed,…``) and, if Loop refuses that (422, its
documented answer to an invalid state), read in one pass per state.

Cursors: a bare next page URL continues the all-states request; ``<state>|<URL>``
continues a pass (the URL empty for a pass's first page). Our window, filter
and state are put back on a next page URL that lacks them, so a link that
drops them cannot widen what is read.

Bodies are read with ``parse_float=Decimal``: a JSON number (an amount, an id)
reaches the parser exactly as written and is stored as such (``polling.store``
writes Decimals back with ``use_decimal``), never through a binary float.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import httpx

from connectors.base.client import Page, PermanentFailure, PlatformClient, Policy, TemporaryFailure

PAGE_SIZE = 100  # Loop allows up to 750
LIST = "/warehouse/return/list"
STATES = ("open", "closed", "expired", "cancelled", "review")
ALL_STATES = ",".join(STATES)


class LoopClient(PlatformClient):
    # 300 requests a minute per key; a little under, for the webhooks' own lookups.
    policy = Policy(requests_per_second=4.5, burst=5)

    def headers(self) -> dict[str, str]:
        return {"X-Authorization": self.connection.api_key, "Accept": "application/json"}

    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        state, bar, following = cursor.partition("|")
        if not (bar and state in STATES):  # the all-states request
            try:
                return self._page(since, until, ALL_STATES, cursor, passes=False)
            except PermanentFailure as exc:
                if cursor or " answered 422" not in str(exc):
                    raise
            state, following = STATES[0], ""  # one state at a time, from the first
        return self._page(since, until, state, following, passes=True)

    def _page(self, since, until, state: str, following: str, *, passes: bool) -> Page:
        params = {
            "paginate": "true",
            "pageSize": PAGE_SIZE,
            "filter": "updated_at",
            "from": since.isoformat(),
            "to": until.isoformat(),
            "state": state,
        }
        if following:
            url = httpx.URL(following)
            missing = {k: v for k, v in params.items() if k not in url.params}
            response = self.request("GET", str(url.copy_merge_params(missing)))
        else:
            response = self.request("GET", LIST, params=params)
        body = self._read(response)
        if isinstance(body, list):  # the list unpaginated: one page
            rows, more = body, ""
        else:
            rows, more = body.get("returns") or [], body.get("nextPageUrl") or ""
        more = more if isinstance(more, str) else ""
        # The list shows the return as its webhooks do, without topic and trigger.
        changes = [
            ("return.updated", {"topic": "return", "trigger": "return.updated", **ret})
            if isinstance(ret, dict)
            else ("return.updated", ret)  # stored as it came; the parser says what is wrong
            for ret in rows
        ]
        if not passes:
            return Page(changes, more)
        if more:
            return Page(changes, f"{state}|{more}")
        later = STATES.index(state) + 1
        return Page(changes, f"{STATES[later]}|" if later < len(STATES) else "")

    @staticmethod
    def _read(response: httpx.Response) -> dict | list:
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError) as exc:
            raise TemporaryFailure(f"the return list's answer is not JSON: {exc}") from None
        if not isinstance(body, dict | list):
            raise TemporaryFailure("the return list's answer is neither a list nor an object")
        return body
