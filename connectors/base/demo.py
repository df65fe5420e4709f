"""The demo workspace's files (returns_hub/demo), as the simulators read them, and the
demo's story: the shared fixtures' scenarios, and the few situations they do not
raise, played through the hub as a platform's webhooks are.

Every body goes the webhook's way: stored whole as an inbox delivery, then
processed by the delivery task, so the timeline and the exceptions are the hub's
own. Bodies the fixtures do not have are rendered by the platform simulators'
dialects (what the platform would send). Nothing is inserted by hand.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from connectors.base.simulator import (
    STEPS,
    Catalogue,
    Knobs,
    PlatformSimulator,
    SimExchange,
    SimReturn,
)

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "returns_hub" / "demo"
SCENARIOS_DIR = DEMO_DIR / "scenarios"
CREDIT_NOTES = DEMO_DIR / "credit_note_export.csv"
# Each platform's folder of scenario bodies (as in the shared fixtures).
SCENARIO_FOLDERS = {
    "loop": "loop",
    "happy-returns": "happy_returns",
    "reveni": "reveni",
    "swap": "swap",
    "rebound": "rebound",
}
# A ReBound store being onboarded: no Khaos channel yet, and an API key ReBound refuses.
PILOT_SLUG = "pilot-rebound"


def rows(name: str) -> list[dict]:
    with (DEMO_DIR / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def document(name: str) -> dict:
    return json.loads((DEMO_DIR / name).read_text())


def catalogue(platform: str) -> Catalogue:
    """What the demo shop sells, to whom, and the platform's reasons and grades."""
    products = []
    for item in document("stock_upload.json")["Items"]:
        options = item.get("Options") or {}
        if options.get("Discontinued") or not options.get("StockControlled", True):
            continue
        gross = Decimal(str((item.get("SellPrice") or {}).get("Gross", "0"))).quantize(
            Decimal("0.01")
        )
        tax = (
            (gross / 6).quantize(Decimal("0.01"))
            if (item.get("TaxRate") or {}).get("ID") == "1"
            else Decimal("0.00")
        )
        barcodes = item.get("Barcodes") or [{}]
        products.append(
            (
                item["StockCode"],
                barcodes[0].get("Barcode", ""),
                item.get("ShortDescription", ""),
                gross - tax,
                tax,
            )
        )
    emails = [(row["email"], "Demo Customer") for row in rows("customers.csv")]
    reasons = [r["reason"] for r in rows("reason_mappings.csv") if r["platform"] == platform]
    grades = [
        r["disposition"]
        for r in rows("disposition_mappings.csv")
        if r["platform"] == platform and r["disposition"] not in ("keep_item", "donate")
    ]
    return Catalogue(products, emails, reasons, grades)


# --- the hub's way in ---------------------------------------------------------------------


def deliver(connection, body: bytes) -> int | None:
    """One webhook body, taken as the receiver takes it (stored whole in the inbox) and
    processed now by the delivery task, as a worker would. The delivery's id, or None
    when the same delivery was stored before (nothing happens twice)."""
    from connectors import registry
    from returns_hub.choices import InboxSource
    from returns_hub.services import inbox

    webhooks = registry.get(connection.platform).webhooks
    payload = json.loads(body, parse_float=Decimal)
    delivery_id = inbox.store(
        connection,
        source=InboxSource.WEBHOOK,
        topic=webhooks.topic(payload),
        dedup_key=webhooks.dedup_key(payload, body),
        headers={"Content-Type": "application/json", "X-Demo": "load_demo"},
        body=body,
    )
    if delivery_id is not None:
        import_string(settings.HUB["DELIVERY_TASK"])(delivery_id)
    return delivery_id


def scenario_files(platform: str) -> list[Path]:
    """The platform's scenario bodies, in the order they are sent."""
    return sorted((SCENARIOS_DIR / SCENARIO_FOLDERS[platform]).glob("*.json"))


# --- the story ----------------------------------------------------------------------------


@dataclass
class Story:
    """What one telling of the story did: deliveries new and seen before, and what else."""

    new: int = 0
    seen: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, delivery_id: int | None) -> None:
        if delivery_id is None:
            self.seen += 1
        else:
            self.new += 1


def tell(connections: dict, channel, pilot) -> Story:
    """Play the whole story through the hub; safe to run again (nothing happens twice).

    ``connections``: the demo's connection per platform; ``pilot``: the onboarding one.
    """
    story = Story()
    _unconfirmed(story, connections["rebound"])  # first: its deadline is the earliest
    for platform in SCENARIO_FOLDERS:
        for path in scenario_files(platform):
            story.count(deliver(connections[platform], path.read_bytes()))
    _missing_source_order(story, connections["reveni"])
    _incomplete_address(story, connections["happy-returns"])
    _settlement_missing(story, connections["loop"])
    _invalid_payload(story, connections["swap"])
    _exchange_cancelled(story, connections["loop"], channel)
    _channel_incomplete(story, pilot)
    _platform_unreachable(story, pilot)
    return story


def simulator(connection, seed: int) -> PlatformSimulator:
    """The platform's simulator, used only to render what the platform would send."""
    from connectors import registry

    return PlatformSimulator(
        registry.get(connection.platform).simulator(),
        catalogue(connection.platform),
        knobs=Knobs(seed=seed, problem_rate=0.0),
    )


def told(sim: PlatformSimulator, ret: SimReturn, until: str, at: datetime) -> list[bytes]:
    """The platform's webhook bodies for ``ret`` from opened up to ``until``, dated ``at``
    onwards (an hour a step), as it would have sent them."""
    ret.created = ret.updated = at
    bodies = sim.dialect.webhook(ret, "opened")
    for step in STEPS[1 : STEPS.index(until) + 1]:
        ret.step = STEPS.index(step)
        ret.updated = at + timedelta(hours=ret.step)
        if step == "graded":
            sim.grade(ret)
        bodies += sim.dialect.webhook(ret, step)
    return [json.dumps(body, default=str).encode() for body in bodies]


def _send(story: Story, connection, bodies: list[bytes]) -> None:
    for body in bodies:
        story.count(deliver(connection, body))


def _made(sim: PlatformSimulator, seed: int, *, order: str, email: str, name: str) -> SimReturn:
    """A clean return of the platform's, numbered apart from the running simulators' own."""
    ret = sim.new_return(problem="")
    ret.id = f"{ret.id[:3]}{900000 + seed}"
    ret.order, ret.email, ret.name = order, email, name
    return ret


def _fixed_start(days_ago: int) -> datetime:
    # Dated from a fixed day so that a second run renders the same bodies (same keys).
    return datetime(2025, 3, 20, 10, 0, tzinfo=UTC) - timedelta(days=days_ago)


def _unconfirmed(story: Story, connection) -> None:
    """A return Khaos downloaded and never credited: past its deadline, posting_unconfirmed.

    Its posting is the first the demo makes, so the deadline check run with the clock
    moved just past its deadline flags it alone (and nothing on a workspace that
    already had older postings: then the real schedule will, in time).
    """
    from returns_hub.services import demo as demo_service

    sim = simulator(connection, seed=101)
    ret = _made(sim, 101, order="1051", email="hannah.brooks@example.com", name="Hannah Brooks")
    _send(story, connection, told(sim, ret, "graded", _fixed_start(30)))
    flagged = demo_service.flag_overdue_alone(connection, ret.order)
    if flagged:
        story.notes.append(flagged)


def _missing_source_order(story: Story, connection) -> None:
    """Reveni paid an instant refund on a return that names no order."""
    sim = simulator(connection, seed=102)
    ret = _made(sim, 102, order="", email="marcus.adeyemi@example.net", name="Marcus Adeyemi")
    _send(story, connection, told(sim, ret, "refunded", _fixed_start(2)))


def _incomplete_address(story: Story, connection) -> None:
    """A first order's return through Happy Returns, which sends no address: graded, it
    cannot post until CX adds the customer's row (unknown_customer, incomplete_address)."""
    sim = simulator(connection, seed=103)
    ret = _made(sim, 103, order="1061", email="alex.first-order@example.org", name="")
    _send(story, connection, told(sim, ret, "graded", _fixed_start(3)))


def _settlement_missing(story: Story, connection) -> None:
    """Loop graded a return days ago and has reported no refund since."""
    sim = simulator(connection, seed=104)
    ret = _made(sim, 104, order="5021", email="priya.raman@example.com", name="Priya Raman")
    _send(story, connection, told(sim, ret, "graded", _fixed_start(4)))
    from returns_hub.services import demo as demo_service

    waited = demo_service.wait_out_settlement(connection, ret.order)
    if waited:
        story.notes.append(waited)


def _invalid_payload(story: Story, connection) -> None:
    """Swap starts sending a price as pounds in its pence field: the hub cannot use it."""
    sim = simulator(connection, seed=107)
    ret = _made(sim, 107, order="40031", email="aisha.khan@example.com", name="Aisha Khan")
    body = json.loads(told(sim, ret, "opened", _fixed_start(1))[0])
    item = body["data"]["items"][0]
    item["unit_price_minor"] = f"{Decimal(item['unit_price_minor']) / 100:.2f}"
    _send(story, connection, [json.dumps(body).encode()])


def _exchange_cancelled(story: Story, connection, channel) -> None:
    """An exchange Khaos accepted, then cancelled (its stock went elsewhere)."""
    from connectors.khaos.channel import apply_order_statuses

    sim = simulator(connection, seed=105)
    ret = _made(
        sim, 105, order="5011", email="gareth.llewellyn@example.org", name="Gareth Llewellyn"
    )
    unit = ret.units[0]
    unit.exchange = SimExchange(f"X{unit.id}", "HF-DRS-WRP-SAG-12", "Wrap Dress - Sage - 12")
    _send(story, connection, told(sim, ret, "opened", _fixed_start(5)))
    ref = f"{connection.spec.ref_prefix}-{ret.id}-X"
    status = {"OrderCode": "SO02190", "Status": "Cancelled", "AssociatedRef": ref}
    result = apply_order_statuses(channel, {"Statuses": [status]})
    if result["applied"]:
        story.notes.append(f"Khaos cancelled exchange order {ref} (SO02190)")


def _channel_incomplete(story: Story, pilot) -> None:
    """The onboarding store's first return reaches its final disposition: no channel."""
    sim = simulator(pilot, seed=106)
    ret = _made(
        sim, 106, order="7001", email="eleanor.whitfield@example.com", name="Eleanor Whitfield"
    )
    _send(story, pilot, told(sim, ret, "graded", _fixed_start(1)))


def _platform_unreachable(story: Story, pilot) -> None:
    """The onboarding store's first poll: ReBound refuses its API key (401).

    A stand-in ReBound (the simulator's API, on a free local port) answers the poll,
    as ReBound would; the connection then points back where its polls will go on
    being refused until the data team sets the right key.
    """
    from connectors import polling
    from returns_hub.models import PlatformConnection

    if pilot.poll_failing_since is not None:
        return  # told before
    sim = PlatformSimulator(
        _rebound_dialect(), catalogue("rebound"), api_key="the-store's-real-key"
    )
    url = sim.serve(0)
    home = pilot.base_url
    try:
        PlatformConnection.objects.filter(pk=pilot.pk).update(base_url=url)
        # The poll's own transaction, so a refusal is kept as the poll keeps it.
        with transaction.atomic():
            result = polling.poll_connection(pilot.pk)
    finally:
        PlatformConnection.objects.filter(pk=pilot.pk).update(base_url=home)
        sim.stop()
    story.notes.append(f"{PILOT_SLUG}'s first poll: {result}")


def _rebound_dialect():
    from connectors import registry

    return registry.get("rebound").simulator()
