"""One engine for every platform simulator; each platform adds its dialect.

The engine keeps a generated set of returns and moves each through its story
(opened, on its way, delivered, graded, refunded; some cancelled or expired).
At each step the dialect renders the platform's webhook, which the engine
signs and sends to the hub, and the dialect's API serves the same returns to
the hub's polls from a small HTTP server on this machine.

The mix: ``problem_rate`` of new returns (seeded) carry one problem a real shop
sends now and then, taken in turn from the problems the platform's payload can
carry (``Dialect.problems``, from ``PROBLEMS``): a SKU the product master does not
know, a reason or grade with no mapping row, a refund that differs from the goods'
value, a customer not in the customer table, an exchange for something Khaos
cannot send. The rest go through their story cleanly.

Knobs for the bad days: ``duplicates`` (each webhook sent twice),
``out_of_order`` (a tick's webhooks shuffled), ``bad_signature_rate`` (signed
with the wrong secret), ``outage`` (the API answers 503), ``rate_limit_every``
(every Nth API call is a 429), ``rate_limit_per_minute`` (calls past it in a
minute are a 429 saying how long to wait), ``fail_next`` (the next calls answer
these statuses, in order).

Transport faults, as a soak rehearses them (``Faults`` counts each): ``duplicate_rate``
(a share of webhooks sent twice), ``give_up_rate`` (the sender gives up mid-request:
half the body sent, or the whole body sent and the answer not awaited),
``hold_webhooks`` (an outage on the platform's side: webhooks wait and go late, when it
is lifted), and ``retry_failed`` (a webhook not acknowledged, answered 5xx or given up,
is sent again at the next tick, as real platforms retry).

The platforms' write APIs (Loop's process and flag, Happy Returns' approve) are
answered by their dialects, which then send the platform's own follow-up webhooks
(the refund) a moment later, as the platform's background work would (``later``;
``drain`` waits for them).
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

logger = logging.getLogger(__name__)

STEPS = ("opened", "in_transit", "delivered", "graded", "refunded")

# The problems a simulated return can carry, each named as the exception it raises.
PROBLEMS = (
    "unknown_sku",
    "unmapped_reason",
    "unmapped_disposition",
    "value_mismatch",
    "unknown_customer",
    "exchange_unavailable",
)
# The demo's deliberate gaps (returns_hub/demo's tables leave them out on purpose).
UNKNOWN_PRODUCT = ("HF-TEE-ORG-GRN-M", "", "Organic Cotton Tee - Green - M")
UNMAPPED_REASON = "arrived_too_late"
UNMAPPED_DISPOSITION = "repair"
# Published items Khaos has none of (Available 0 at site 1 in the demo's stock status).
UNAVAILABLE = ("HF-TEE-ORG-BLK-M", "Organic Cotton Tee - Black - M")
# A partial refund or a goodwill top-up: beyond any money tolerance.
REFUND_DIFFERENCES = (Decimal("-5.00"), Decimal("-2.00"), Decimal("10.00"))


@dataclass
class SimExchange:
    """The item sent instead of a returned unit, at the same price (an even exchange)."""

    id: str
    sku: str
    title: str


@dataclass
class SimUnit:
    id: str
    sku: str
    barcode: str
    title: str
    price: Decimal
    discount: Decimal
    tax: Decimal
    reason: str
    disposition: str = ""
    # Decided through the platform's API (Happy Returns' approve): refunded or not.
    approved: bool | None = None
    exchange: SimExchange | None = None  # exchanged, not refunded
    refund_difference: Decimal = Decimal("0.00")  # refunded beyond (or short of) its value

    @property
    def credit(self) -> Decimal:
        return self.price - self.discount + self.tax

    @property
    def refund(self) -> Decimal:
        """What the platform pays back for this unit: nothing for an exchanged one."""
        return Decimal("0.00") if self.exchange else self.credit + self.refund_difference


@dataclass
class SimReturn:
    id: str
    order: str
    email: str
    name: str
    units: list[SimUnit]
    created: datetime
    step: int = 0  # index into STEPS reached so far
    ending: str = ""  # "", "cancelled" or "expired"
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Taken out of the story by a call to the platform's API (processed, flagged, approved).
    held: bool = False
    problem: str = ""  # one of PROBLEMS, or "" for a clean return

    @property
    def stage(self) -> str:
        return self.ending or STEPS[self.step]

    @property
    def credit(self) -> Decimal:
        return sum((u.credit for u in self.units), Decimal("0.00"))

    @property
    def refund(self) -> Decimal:
        return sum((u.refund for u in self.units), Decimal("0.00"))

    @property
    def exchanges(self) -> list[tuple[SimUnit, SimExchange]]:
        return [(u, u.exchange) for u in self.units if u.exchange]


@dataclass
class Knobs:
    duplicates: bool = False
    out_of_order: bool = False
    bad_signature_rate: float = 0.0
    outage: bool = False
    rate_limit_every: int = 0
    seed: int = 11
    rate_limit_per_minute: int = 0
    fail_next: list[int] = field(default_factory=list)
    # Share of new returns with a problem (0 to 1); None: the connection's, as
    # connectors.simulators decides (the demo's configured mix), else none.
    problem_rate: float | None = None
    duplicate_rate: float = 0.0
    give_up_rate: float = 0.0
    hold_webhooks: bool = False
    retry_failed: bool = False


@dataclass
class Faults:
    """What the transport knobs did, counted (a soak reports them)."""

    duplicated: int = 0
    gave_up_mid_body: int = 0
    gave_up_before_answer: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0  # answered 5xx or not delivered at all (then retried if retry_failed)
    shuffled_ticks: int = 0
    outage_answers: int = 0  # API calls answered 503 in an outage


@dataclass
class Catalogue:
    """What the simulated shop sells and who buys it."""

    products: list[tuple[str, str, str, Decimal, Decimal]]  # sku, barcode, title, price, tax
    emails: list[tuple[str, str]]  # email, name
    reasons: list[str]
    dispositions: list[str]


class Dialect:
    """What one platform looks like from outside. Subclasses fill it in."""

    platform = ""
    api_key_header = "Authorization"
    # The problems this platform's payloads can carry (see PROBLEMS).
    problems: tuple[str, ...] = ("unknown_sku", "unmapped_disposition", "unknown_customer")
    # How a simulated ending shows in the hub (None: the platform does not report it).
    endings: dict[str, str | None] = {"cancelled": "cancelled", "expired": "expired"}

    def webhook(self, ret: SimReturn, stage: str) -> list[dict]:
        """The webhook bodies the platform sends when a return reaches ``stage``."""
        raise LookupError(stage)

    def api(
        self, sim: PlatformSimulator, method: str, path: str, query: dict, form: dict
    ) -> tuple[int, object]:
        """Answer one API call: (status, JSON body)."""
        return 404, {"error": "no such endpoint"}

    def authorised(self, headers, form: dict, api_key: str) -> bool:
        return bool(api_key) and api_key in (headers.get(self.api_key_header) or "")

    def too_many(self, wait: int) -> dict:
        """The body of a 429 past the rate limit; ``retry_after`` becomes Retry-After."""
        return {"error": "too many requests", "retry_after": wait}


class PlatformSimulator:
    def __init__(
        self,
        dialect: Dialect,
        catalogue: Catalogue,
        *,
        webhook_url: str = "",
        secret: str = "",
        api_key: str = "",
        knobs: Knobs | None = None,
        signature=None,
    ) -> None:
        self.dialect = dialect
        self.catalogue = catalogue
        self.webhook_url = webhook_url
        self.secret = secret
        self.api_key = api_key
        self.knobs = knobs or Knobs()
        self.random = random.Random(self.knobs.seed)
        self.signature = signature
        self.returns: dict[str, SimReturn] = {}
        self.sent: list[tuple[int, str]] = []  # (status, topic) of every webhook sent
        self.api_calls = 0
        self.server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()
        self.counter = 0
        self.base_url = ""
        self.calls_at: deque[float] = deque()  # API calls in the last minute
        self.followers: list[threading.Thread] = []  # follow-up webhooks being sent
        self.problems_made = 0  # problems are taken in turn, so each kind comes up
        self.faults = Faults()
        # One client for every webhook: a client is costly to make (its TLS context).
        self.http = httpx.Client(timeout=30)
        self.pending: list[dict] = []  # held or failed webhooks, sent at the next tick

    # --- the story ---------------------------------------------------------------

    def new_return(self, problem: str | None = None) -> SimReturn:
        """A new return; ``problem`` (one of PROBLEMS, "" for none) or as the mix decides."""
        self.counter += 1
        n = self.counter
        email, name = self.catalogue.emails[n % len(self.catalogue.emails)]
        units = []
        for i in range(self.random.randint(1, 2)):
            sku, barcode, title, price, tax = self.random.choice(self.catalogue.products)
            units.append(
                SimUnit(
                    f"{n}{i:02d}",
                    sku,
                    barcode,
                    title,
                    price,
                    Decimal("0.00"),
                    tax,
                    self.random.choice(self.catalogue.reasons),
                )
            )
        now = datetime.now(UTC).replace(microsecond=0)
        ret = SimReturn(
            f"{self.dialect.platform[:3].upper()}{n:06d}",
            str(90000 + n),
            email,
            name,
            units,
            now,
            updated=now,
        )
        problem = self.next_problem() if problem is None else problem
        if problem:
            self.give_problem(ret, problem)
        self.returns[ret.id] = ret
        return ret

    def next_problem(self) -> str:
        """The mix's choice for a new return: "" (clean), or the platform's next problem."""
        rate = self.knobs.problem_rate or 0.0
        if not rate or not self.dialect.problems or self.random.random() >= rate:
            return ""
        self.problems_made += 1
        return self.dialect.problems[(self.problems_made - 1) % len(self.dialect.problems)]

    def give_problem(self, ret: SimReturn, problem: str) -> None:
        """Spoil one thing about ``ret``, as a real shop's data sometimes is."""
        unit = ret.units[0]
        ret.problem = problem
        if problem == "unknown_sku":
            unit.sku, unit.barcode, unit.title = UNKNOWN_PRODUCT
        elif problem == "unmapped_reason":
            unit.reason = UNMAPPED_REASON
        elif problem == "value_mismatch":
            unit.refund_difference = self.random.choice(REFUND_DIFFERENCES)
        elif problem == "unknown_customer":
            ret.email, ret.name = f"first.order{self.counter}@example.org", "Robin Newcombe"
        elif problem == "exchange_unavailable":
            unit.exchange = SimExchange(f"X{unit.id}", *UNAVAILABLE)
        elif problem != "unmapped_disposition":  # that one is given at grading (advance)
            raise ValueError(f"unknown problem {problem!r} (one of {', '.join(PROBLEMS)})")

    def advance(self, ret: SimReturn) -> str | None:
        """Move a return one step on (or end it); the stage reached, or None if done."""
        if ret.ending or ret.held or ret.step == len(STEPS) - 1:
            return None
        if ret.step == 0 and self.random.random() < 0.05:
            ret.ending = self.random.choice(["cancelled", "expired"])
        else:
            ret.step += 1
            if STEPS[ret.step] == "graded":
                self.grade(ret)
        ret.updated = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=self.counter)
        return ret.stage

    def grade(self, ret: SimReturn) -> None:
        """The platform's grades, one mapped grade a unit (a problem's first unit: unmapped)."""
        for unit in ret.units:
            unit.disposition = self.random.choice(self.catalogue.dispositions)
        if ret.problem == "unmapped_disposition":
            ret.units[0].disposition = UNMAPPED_DISPOSITION

    def tick(self, new: int = 1, *, advance: bool = True) -> int:
        """New returns open, open ones move on; each change is sent as a webhook (after
        the ones waiting from earlier ticks). ``advance`` False: only new returns open."""
        bodies: list[dict] = []
        if advance:
            for ret in list(self.returns.values()):
                stage = self.advance(ret)
                if stage:
                    bodies += self.dialect.webhook(ret, stage)
        for _ in range(new):
            bodies += self.dialect.webhook(self.new_return(), "opened")
        if self.knobs.out_of_order and len(bodies) > 1:
            self.random.shuffle(bodies)
            self.faults.shuffled_ticks += 1
        self.flush()
        for body in bodies:
            self.deliver(body)
            if self.knobs.duplicates:
                self.deliver(body)
            elif self.knobs.duplicate_rate and self.random.random() < self.knobs.duplicate_rate:
                self.faults.duplicated += 1
                self.deliver(body)
        return len(bodies)

    def flush(self) -> int:
        """Send the webhooks waiting (held in an outage, or failed earlier); how many."""
        if self.knobs.hold_webhooks or not self.pending:
            return 0
        with self.lock:
            waiting, self.pending = self.pending, []
        for body in waiting:
            self.faults.retried += 1
            self.deliver(body)
        return len(waiting)

    def finished(self) -> bool:
        """Every return's story is over and no webhook is waiting to be sent."""
        return not self.pending and all(
            r.ending or r.held or r.step == len(STEPS) - 1 for r in self.returns.values()
        )

    def deliver(self, body: dict) -> int:
        """Send one webhook through the bad day's faults; 0 when it did not arrive."""
        if self.knobs.hold_webhooks:
            with self.lock:
                self.faults.held += 1
                self.pending.append(body)
            return 0
        # A knob left at 0 draws nothing: the seeded story stays as it was without it.
        if self.knobs.give_up_rate and self.random.random() < self.knobs.give_up_rate:
            self.give_up(body)
            status = 0
        else:
            status = self.send(body)
        if status == 0 or status >= 500:
            self.faults.failed += status != 0
            if self.knobs.retry_failed:
                with self.lock:
                    self.pending.append(body)
        return status

    def signed(self, body: dict) -> tuple[bytes, dict]:
        raw = json.dumps(body, default=str).encode()
        secret = self.secret
        if self.random.random() < self.knobs.bad_signature_rate:
            secret = "not-the-secret"
        headers = {
            "Content-Type": "application/json",
            self.signature.header: self.signature.compute(secret, raw),
        }
        return raw, headers

    def send(self, body: dict) -> int:
        raw, headers = self.signed(body)
        try:
            status = self.http.post(self.webhook_url, content=raw, headers=headers).status_code
        except httpx.TransportError as exc:
            logger.warning("webhook not delivered", extra={"error": str(exc)})
            status = 0
        self.sent.append((status, topic_of(body)))
        return status

    def give_up(self, body: dict) -> None:
        """A sender that gives up: half the body sent then the line dropped, or the whole
        request sent and the line dropped before the answer (the hub may have it)."""
        raw, headers = self.signed(body)
        parts = urlsplit(self.webhook_url)
        mid_body = self.random.random() < 0.5
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head += [f"Content-Length: {len(raw)}", "Connection: close", "", ""]
        sent = raw[: len(raw) // 2] if mid_body else raw
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=5) as sock:
                sock.sendall("\r\n".join(head).encode() + sent)
        except OSError as exc:
            logger.warning("webhook not delivered", extra={"error": str(exc)})
        if mid_body:
            self.faults.gave_up_mid_body += 1
        else:
            self.faults.gave_up_before_answer += 1
        self.sent.append((0, topic_of(body)))

    # --- the API -----------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict, form: dict, headers
    ) -> tuple[int, object]:
        with self.lock:
            self.api_calls += 1
            calls = self.api_calls
            scripted = self.knobs.fail_next.pop(0) if self.knobs.fail_next else None
            wait = self._throttled(time.monotonic())
        if self.knobs.outage:
            with self.lock:
                self.faults.outage_answers += 1
            return 503, {"error": "service unavailable"}
        if scripted:
            return scripted, {"error": f"simulated {scripted}"}
        if self.knobs.rate_limit_every and calls % self.knobs.rate_limit_every == 0:
            return 429, {"error": "too many requests", "retry_after": 0}
        if wait is not None:
            return 429, self.dialect.too_many(wait)
        if not self.dialect.authorised(headers, form, self.api_key):
            return 401, {"error": "unauthorised"}
        return self.dialect.api(self, method, path, query, form)

    def _throttled(self, now: float) -> int | None:
        """Seconds to wait when this call is past the per-minute limit (under the lock)."""
        limit = self.knobs.rate_limit_per_minute
        if not limit:
            return None
        while self.calls_at and now - self.calls_at[0] >= 60:
            self.calls_at.popleft()
        if len(self.calls_at) >= limit:
            return max(1, math.ceil(60 - (now - self.calls_at[0])))
        self.calls_at.append(now)
        return None

    def later(self, bodies: list[dict]) -> None:
        """Webhooks the platform sends on its own once it has answered a call."""

        def run():
            for body in bodies:
                self.deliver(body)

        thread = threading.Thread(target=run, daemon=True)
        with self.lock:
            self.followers.append(thread)
        thread.start()

    def drain(self, timeout: float = 30) -> None:
        """Wait until every follow-up webhook has been sent."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                running = [t for t in self.followers if t.is_alive()]
                self.followers = running
            if not running:
                return
            running[0].join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                raise TimeoutError("follow-up webhooks still being sent")

    def serve(self, port: int = 0) -> str:
        """Start the API on 127.0.0.1; returns its base URL."""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    form = json_form(raw)
                else:
                    form = {k: v[-1] for k, v in parse_qs(raw).items()}
                status, body = simulator.handle(method, parts.path, query, form, self.headers)
                data = json.dumps(body, default=str).encode() if body is not None else b""
                self.send_response(status)
                wait = body.get("retry_after") if isinstance(body, dict) else None
                if status == 429 and wait is not None:
                    self.send_header("Retry-After", str(wait))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        self.http.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @staticmethod
    def page(rows: list, cursor: str | None, size: int = 50) -> tuple[list, str | None]:
        """One page of a list API with an offset cursor: (rows, the next cursor or None)."""
        start = int(cursor or 0)
        more = start + size < len(rows)
        return rows[start : start + size], (str(start + size) if more else None)

    def listed(self, since: datetime | None = None, until: datetime | None = None):
        """Returns changed in a window, oldest change first (as list APIs answer)."""
        chosen = [
            r
            for r in self.returns.values()
            if (since is None or r.updated >= since) and (until is None or r.updated <= until)
        ]
        return sorted(chosen, key=lambda r: (r.updated, r.id))


def topic_of(body: dict) -> str:
    return str(body.get("topic") or body.get("event") or body.get("webhookType") or "")


def json_form(raw: str) -> dict:
    """A JSON request body as the dialects read it: an object, or ``{"_invalid": why}``."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_invalid": "the body is not JSON"}
    return body if isinstance(body, dict) else {"_invalid": "the body must be a JSON object"}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(value: Decimal) -> str:
    return f"{value:.2f}"
