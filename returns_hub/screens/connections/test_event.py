""" "Send test event": one signed webhook from the platform's own simulator, over real HTTP,
to the hub's webhook URL for the connection, and the hub's answer.

Sent inline with a 10-second timeout rather than in a task: the hub answers a webhook as
soon as it has stored it (processing is queued), so the wait is one short round trip and
the person sees the answer at once.

A test event is the platform's "return opened" message for a made-up return whose order
number, and return id where the platform's ids are text, start ``TEST-``. Opened, no unit
has arrived, been graded or refunded and no exchange is asked for, so under every posting
policy nothing is due: Khaos is never sent a document for it. The hub keeps it like any
other return (its timeline shows it came in), so the whole path is proven, parser included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

TEST_PREFIX = "TEST-"
TIMEOUT_SECONDS = 10

OUTCOMES = {
    202: "accepted",
    200: "duplicate",
    401: "refused: the signature did not match the connection's webhook secret",
    404: "refused: no enabled connection at this URL",
    413: "refused: the body is too large",
    400: "refused: the hub could not read the body",
}


@dataclass(frozen=True)
class TestEventResult:
    __test__ = False  # not a pytest test class, whatever its name

    url: str
    reference: str  # the TEST- order number that marks the return
    status: int = 0  # 0: no answer
    delivery_id: int | None = None
    detail: str = ""

    @property
    def outcome(self) -> str:
        if not self.status:
            return "not delivered"
        return OUTCOMES.get(self.status, f"answered {self.status}")

    @property
    def accepted(self) -> bool:
        return self.status == 202


def _opened_webhooks(simulator, reference: str) -> list[dict]:
    """The platform's webhook bodies for a new return marked ``reference``."""
    sim_return = simulator.new_return()
    sim_return.order = reference
    sim_return.id = reference
    try:
        return simulator.dialect.webhook(sim_return, "opened")
    except ValueError:
        # A platform whose return ids are numbers (ReBound): the number stays, the order
        # number still carries the mark.
        sim_return.id = f"TST{reference.removeprefix(TEST_PREFIX)}"
        return simulator.dialect.webhook(sim_return, "opened")


def send_test_event(connection, webhook_url: str) -> TestEventResult:
    # The simulators are the connectors' (the domain never imports a connector at load).
    from connectors.simulators import for_connection

    reference = f"{TEST_PREFIX}{time.time_ns() // 1_000_000}"
    simulator = for_connection(
        connection, "", secret=connection.webhook_secret, api_key=connection.api_key
    )
    simulator.webhook_url = webhook_url
    body = _opened_webhooks(simulator, reference)[0]
    # Encoded and signed exactly as the simulator sends; posted here to read the answer.
    raw = json.dumps(body, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        simulator.signature.header: simulator.signature.compute(simulator.secret, raw),
    }
    try:
        answer = httpx.post(webhook_url, content=raw, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return TestEventResult(webhook_url, reference, detail=f"{type(exc).__name__}: {exc}")
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    delivery = payload.get("delivery")
    return TestEventResult(
        webhook_url,
        reference,
        status=answer.status_code,
        delivery_id=delivery if isinstance(delivery, int) else None,
        detail=str(payload.get("error") or payload.get("status") or ""),
    )
