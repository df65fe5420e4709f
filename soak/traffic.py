"""The outside world: the five platform simulators and the strict Khaos simulator.

The platforms send signed webhooks to the hub and serve their APIs to its polls;
Khaos polls the channel with ``Sirion-Continuation`` on its own thread, imports what
it may, retries its failed imports by name and pushes its statuses back.
"""

from __future__ import annotations

import logging
import threading

from connectors import simulators
from connectors.base.simulator import Knobs, PlatformSimulator
from connectors.khaos import demo as khaos_demo
from connectors.khaos.simulator import Faults, KhaosSimulator

# The share of each fault (transport faults on webhooks; Khaos's on its downloads).
WEBHOOK_FAULTS = {"duplicate_rate": 0.08, "give_up_rate": 0.08}
KHAOS_FAULTS = {"lost_rate": 0.1, "error_rate": 0.03, "import_failure_rate": 0.05}


def platforms(hub_url: str, seed: int) -> dict[str, PlatformSimulator]:
    """A simulator per demo connection, serving its API, the connection pointed at it."""
    from returns_hub.models import PlatformConnection

    running = {}
    for offset, connection in enumerate(
        PlatformConnection.objects.filter(
            slug__startswith=simulators.DEMO_PREFIX, enabled=True
        ).order_by("platform")
    ):
        knobs = Knobs(
            out_of_order=True,
            retry_failed=True,
            problem_rate=0.0,  # clean returns: the faults are the transport's
            seed=seed + offset,
            **WEBHOOK_FAULTS,
        )
        sim = simulators.for_connection(
            connection, hub_url, secret=connection.webhook_secret, api_key="soak-key", knobs=knobs
        )
        connection.base_url = sim.serve()
        connection.api_key = "soak-key"
        # A local simulator: no need to pace the polls (every five minutes, as the demo's).
        connection.options = {**connection.options, "requests_per_second": 100}
        connection.save()
        running[connection.platform] = sim
    return running


class Khaos(threading.Thread):
    """Khaos's timers on a thread: a cycle (poll, import, retry by name, push) a second."""

    def __init__(self, hub_url: str, password: str, seed: int) -> None:
        super().__init__(daemon=True, name="khaos")
        self.sim = KhaosSimulator(
            hub_url,
            "demo",
            "khaos",
            password,
            khaos_demo.demo_state(),
            faults=Faults(seed=seed, **KHAOS_FAULTS),
        )
        self.stopping = threading.Event()
        self.cycles = 0
        self.failed_cycles = 0  # a cycle given up (the hub unreachable): the next goes on
        self.last_error = ""
        logging.getLogger("connectors.khaos.simulator").setLevel(logging.ERROR)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sim.run_once()
            except Exception as exc:  # Khaos's timer fires again, whatever went wrong
                self.failed_cycles += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.cycles += 1
            self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=120)
