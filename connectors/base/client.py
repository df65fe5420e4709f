"""Outbound HTTP to a platform's API, for the safety-net polls.

One place for the rules every platform client follows: stay inside the
platform's rate limit, honour 429 and ``Retry-After``, retry temporary
failures (network, 5xx) with backoff, and give up at once on permanent ones
(bad credentials, a wrong URL, a malformed request).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from returns_hub.secrets import redact

logger = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """Worth trying again later: the platform is down, slow or busy."""


class PermanentFailure(Exception):
    """Trying again will not help until someone changes something (a key, a URL)."""


class RateLimiter:
    """A leaky bucket: at most ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int = 1, *, clock=time.monotonic, sleep=time.sleep):
        self.rate, self.burst = rate, burst
        self.clock, self.sleep = clock, sleep
        self.allowance = float(burst)
        self.checked = clock()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = self.clock()
            self.allowance = min(self.burst, self.allowance + (now - self.checked) * self.rate)
            self.checked = now
            if self.allowance < 1:
                delay = (1 - self.allowance) / self.rate
                self.sleep(delay)
                self.checked = self.clock()
                self.allowance = 0
            else:
                self.allowance -= 1


@dataclass
class Policy:
    requests_per_second: float
    burst: int = 1
    attempts: int = 5
    backoff: float = 0.5  # seconds, doubled each attempt
    max_wait: float = 60.0  # the longest a Retry-After is honoured within one call


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass
class Page:
    """One short request's worth of a window's changes, and where the next page starts."""

    changes: list[tuple[str, dict]] = field(default_factory=list)
    next: str = ""  # the cursor of the next page; empty when this page was the last


class PlatformClient(ABC):
    """Base of every connector's client: ``page(since, until, cursor)`` answers
    one page of ``(topic, payload)`` in the platform's webhook dialect, so the
    same parser reads polled and pushed data, and a poll can run page by page
    as short tasks that carry the cursor."""

    policy = Policy(requests_per_second=1.0)

    def __init__(
        self,
        connection,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.connection = connection
        self.base_url = connection.base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=30)
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))
        # A platform may grant a connection a higher limit than the documented default.
        options = connection.options or {}
        rate = float(options.get("requests_per_second") or self.policy.requests_per_second)
        self.limiter = RateLimiter(rate, self.policy.burst, sleep=self.sleep)

    def headers(self) -> dict[str, str]:
        return {}

    def wait_for(self, response: httpx.Response) -> float | None:
        """How long a 429 asks us to wait; a platform may say so in its body instead."""
        return retry_after(response)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        problem, pause = "no attempt made", 0.0
        for attempt in range(self.policy.attempts):
            if attempt:
                self.sleep(pause)  # back off before trying again (none after the last try)
            self.limiter.wait()
            try:
                response = self.http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                pause = self.policy.backoff * 2**attempt
                continue
            if response.status_code == 429:
                wait = self.wait_for(response)
                problem = "429 Too Many Requests"
                if wait is None:
                    wait = self.policy.backoff * 2**attempt
                pause = min(wait, self.policy.max_wait)
                continue
            if response.status_code >= 500:
                problem = f"{response.status_code} from the platform"
                pause = self.policy.backoff * 2**attempt
                continue
            if response.status_code >= 400:
                # The platform's words, with the connection's secrets masked should it
                # echo them: the message is kept, shown to the data team and logged.
                said = redact(
                    response.text,
                    getattr(self.connection, "api_key", ""),
                    getattr(self.connection, "webhook_secret", ""),
                )
                raise PermanentFailure(
                    f"{method} {url} answered {response.status_code}: {said[:200]}"
                )
            return response
        raise TemporaryFailure(f"{method} {url} failed {self.policy.attempts} times: {problem}")

    @abstractmethod
    def page(self, since: datetime, until: datetime, cursor: str = "") -> Page:
        """The page of the window's changes at ``cursor`` (empty: the first page).

        A page is a few requests at most, so one task fetches it well inside its timeout.
        """

    def changes(self, since: datetime, until: datetime) -> Iterator[tuple[str, dict]]:
        """Every return changed in the window, page after page, in one go."""
        cursor = ""
        while True:
            page = self.page(since, until, cursor)
            yield from page.changes
            if not page.next:
                return
            cursor = page.next
