"""Telling platforms the hub's grades: each connector's writer, and the shared sender.

A connector that writes back has a ``Writer`` (``Connector.writer``): its ``plan``
says which call carries a return's grades (the domain asks it through
``returns_hub.platforms`` when a person grades), and its ``call`` builds the
platform's URL and body from the outbox row when it is sent. The mapping from the
hub's disposition codes to the platform's vocabulary lives in the writer, never in
the domain.

The sender, run by tasks only (``connectors.writeback``: every minute, and at once
after a row is queued), never inside a web request:

- claims a due row with one conditional update (``returns_hub.services.writeback.claim``),
  so of two workers one sends and the other skips;
- makes one attempt per claim, with the connection's API key and base URL (the
  platform's public API when the connection names none), inside the platform's rate;
- follows ``connectors.base.client``'s rules: a network error, a 5xx or a 408 is
  temporary and is tried again after an exponential backoff with jitter; a 429 waits
  what the platform asks (``Retry-After``, or the body where the platform says it
  there) and never counts as the platform being down; any other 4xx, or a 2xx whose
  body says it failed, is permanent;
- gives up after ``HUB["WRITEBACK_MAX_ATTEMPTS"]`` (8) attempts, or at once on a
  permanent failure: the row is dead and ``platform_unreachable`` opens for the data
  team (it closes itself when the row is later sent).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from connectors import registry
from connectors.base.client import PermanentFailure, Policy, RateLimiter, retry_after
from returns_hub import platforms
from returns_hub.models import WriteBack
from returns_hub.secrets import redact
from returns_hub.services import writeback as outbox

logger = logging.getLogger(__name__)

BASE_DELAY = 30.0  # seconds before the first retry; doubled each attempt
MAX_DELAY = 3600.0  # the longest wait between two attempts
MAX_RETRY_AFTER = 3600.0  # the longest a platform's 429 is waited for
BATCH = 50  # rows a scheduled run looks at
BUDGET = 30.0  # seconds a run sends for, well inside the task timeout
TIMEOUT = 20.0  # seconds one call may take


def max_attempts() -> int:
    return settings.HUB["WRITEBACK_MAX_ATTEMPTS"]


def backoff(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, capped, with jitter (half
    fixed, half random, so rows that failed together do not retry together)."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass(frozen=True)
class Call:
    """One HTTP call to a platform: the path under its base URL, and the JSON body."""

    method: str
    path: str
    body: Any = None


class Writer(ABC):
    """What one platform is told, and how. Subclasses fill it in.

    Making a writer registers its ``plan`` with the domain, so the domain can decide
    what to queue without naming a connector.
    """

    platform = ""
    default_base_url = ""  # the platform's public API, when a connection names none
    auth_header = "Authorization"
    policy = Policy(requests_per_second=1.0)

    def __init__(self) -> None:
        platforms.register_write_back(self.platform, self.plan)

    @abstractmethod
    def plan(self, units: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> str:
        """The kind of call that tells the platform these grades; "" for none."""

    @abstractmethod
    def call(self, row: WriteBack, connection) -> Call:
        """The platform's call for ``row``; PermanentFailure when it cannot be made."""

    def headers(self, connection) -> dict[str, str]:
        return {self.auth_header: connection.api_key, "Accept": "application/json"}

    def wait_for(self, response: httpx.Response) -> float | None:
        """How long a 429 asks us to wait."""
        return retry_after(response)

    def refused(self, response: httpx.Response) -> str:
        """Why a 2xx answer still says the call failed; "" when it did not."""
        return ""

    @staticmethod
    def options(connection) -> dict:
        """The connection's write-back settings: ``options["write_back"]``."""
        found = (connection.options or {}).get("write_back")
        return found if isinstance(found, dict) else {}


# --- the sender -------------------------------------------------------------------------


def send_due(*, http: httpx.Client | None = None, budget: float = BUDGET) -> str:
    """Send every due row (up to a batch, for up to ``budget`` seconds). Scheduled."""
    started = time.monotonic()
    now = timezone.now()
    released = outbox.release_stale(now)
    ids = outbox.due(now, BATCH)
    results: dict[str, int] = {}
    with _client(http) as client:
        limiters: dict[int, RateLimiter] = {}
        for row_id in ids:
            if time.monotonic() - started > budget:
                results["left for the next run"] = len(ids) - sum(results.values())
                break
            result = send_one(row_id, http=client, limiters=limiters)
            results[result] = results.get(result, 0) + 1
    summary = ", ".join(f"{count} {what}" for what, count in sorted(results.items()))
    if released:
        summary = f"{released} interrupted send(s) released; " + (summary or "nothing due")
    return summary or "nothing due"


def send_one(
    row_id: int,
    *,
    http: httpx.Client | None = None,
    limiters: dict[int, RateLimiter] | None = None,
) -> str:
    """Claim one row and send it, if it is due and no other worker has it."""
    row = outbox.claim(row_id, timezone.now())
    if row is None:
        return "skipped"
    with _client(http) as client:
        return _send(row, client, limiters if limiters is not None else {})


@contextmanager
def _client(http: httpx.Client | None):
    """The caller's client, or one of our own for this run (closed after it)."""
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=TIMEOUT) as own:
        yield own


def _limiter(writer: Writer, connection, limiters: dict[int, RateLimiter]) -> RateLimiter:
    if connection.pk not in limiters:
        options = connection.options or {}
        rate = float(options.get("requests_per_second") or writer.policy.requests_per_second)
        limiters[connection.pk] = RateLimiter(rate, writer.policy.burst)
    return limiters[connection.pk]


def _send(row: WriteBack, http: httpx.Client, limiters: dict[int, RateLimiter]) -> str:
    connection = row.connection
    request: dict = {}
    try:
        writer = registry.get(connection.platform).writer
        if writer is None:
            raise PermanentFailure(f"the {connection.platform} connector has no writer")
        if not connection.api_key:
            raise PermanentFailure(
                f"connection {connection.slug} has no API key (set_connection --api-key)"
            )
        call = writer.call(row, connection)
        base = (connection.base_url or writer.default_base_url).rstrip("/")
        request = {"method": call.method, "url": f"{base}{call.path}", "body": call.body}
        if not connection.enabled:
            return _temporary(row, "the connection is disabled", None, "", request)
        _limiter(writer, connection, limiters).wait()
        response = http.request(
            call.method,
            request["url"],
            headers=writer.headers(connection),
            **({"json": call.body} if call.body is not None else {}),
        )
    except PermanentFailure as exc:
        return _give_up(row, str(exc), None, "", request)
    except httpx.TransportError as exc:
        return _temporary(row, f"{type(exc).__name__}: {exc}", None, "", request)
    except Exception as exc:  # the writer could not build the call: it will not next time
        logger.exception("write-back not built", extra={"write_back": row.pk})
        return _give_up(row, f"{type(exc).__name__}: {exc}", None, "", request)
    return _answered(row, writer, response, request)


def _answered(row: WriteBack, writer: Writer, response: httpx.Response, request: dict) -> str:
    # Kept on the row and shown to the data team: a key the platform echoes is masked first.
    connection = row.connection
    text = redact(response.text or "", connection.api_key, connection.webhook_secret)
    status = response.status_code
    where = f"{request['method']} {request['url']} answered {status}"
    if status == 429:
        wait = writer.wait_for(response)
        if wait is None:
            wait = backoff(row.attempts)
        retry_at = timezone.now() + timedelta(seconds=min(max(wait, 1.0), MAX_RETRY_AFTER))
        # The platform is there, only busy: the attempt does not count towards giving up.
        return _failed(
            row, f"{where}: too many requests", status, text, request, retry_at, counts=False
        )
    if status >= 500 or status == 408:
        return _temporary(row, f"{where}: {text[:200]}", status, text, request)
    if status >= 300:
        return _give_up(row, f"{where}: {text[:300]}", status, text, request)
    refusal = writer.refused(response)
    if refusal:
        return _give_up(row, f"{where} but refused it: {refusal}", status, text, request)
    outbox.succeeded(row, status=status, response=text, request=request)
    logger.info(
        "write-back sent",
        extra={"write_back": row.pk, "kind": row.kind, "status": status},
    )
    return "sent"


def _temporary(row, error: str, status, text: str, request: dict) -> str:
    if row.attempts >= max_attempts():
        return _give_up(row, f"{error} (after {row.attempts} attempts)", status, text, request)
    retry_at = timezone.now() + timedelta(seconds=backoff(row.attempts))
    return _failed(row, error, status, text, request, retry_at)


def _failed(
    row, error: str, status, text: str, request: dict, retry_at: datetime, *, counts=True
) -> str:
    outbox.failed(
        row,
        error=error,
        status=status,
        response=text,
        request=request,
        retry_at=retry_at,
        counts=counts,
    )
    logger.warning("write-back failed", extra={"write_back": row.pk, "error": error[:300]})
    return "failed"


def _give_up(row, error: str, status, text: str, request: dict) -> str:
    outbox.failed(row, error=error, status=status, response=text, request=request, retry_at=None)
    logger.error("write-back given up", extra={"write_back": row.pk, "error": error[:300]})
    return "given up"
