"""The soak's run: set up, traffic with faults on a schedule, wait until quiet, check."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from soak import database

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "returns_hub_soak"
BACKLOG = 600  # deliveries waiting before the platforms hold their next tick


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--returns", type=int, default=10000, help="returns in all (>= 50)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "soak")
    parser.add_argument("--quiet-seconds", type=float, default=0, help="wait for quiet (0: auto)")
    args = parser.parse_args(argv)
    if args.returns < 50:
        parser.error("--returns must be at least 50 (ten a platform)")
    return args


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def main(argv=None) -> int:
    args = parse(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    database.choose(args.data_dir, DB_NAME)
    # This process's own connection: none pooled, so one broken by the restart is
    # simply opened again (the hub's processes keep their production settings).
    pool = os.environ.pop("HUB_DB_POOL_MAX_SIZE", None)
    os.environ["HUB_DB_POOL_MAX_SIZE"] = "0"
    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)  # not a line per task queued
    signal.signal(signal.SIGTERM, _stopped)
    if pool is None:
        os.environ.pop("HUB_DB_POOL_MAX_SIZE")
    else:
        os.environ["HUB_DB_POOL_MAX_SIZE"] = pool
    return Soak(args).run()


class Soak:
    def __init__(self, args) -> None:
        self.args = args
        self.random = random.Random(args.seed)
        self.faults: dict = {"worker_killed": 0, "database_restarted": 0}
        self.restart_window: tuple[float, float] | None = None
        self.began = time.monotonic()
        self.hub = self.khaos = None
        self.sims: dict = {}

    # --- set up ---------------------------------------------------------------------

    def setup(self) -> None:
        from django.core.management import call_command
        from django.db import connections

        from soak.hub import Hub
        from soak.traffic import Khaos, platforms

        say(f"database {DB_NAME} on the embedded server in {self.args.data_dir}")
        connections.close_all()
        database.reset(DB_NAME)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("load_demo", stdout=io.StringIO())
        logs = self.args.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        self.hub = Hub(_database_url(), _free_port(), logs)
        self.sims = platforms(self.hub.url, self.args.seed)
        from returns_hub import schedules

        schedules.register_all()
        connections.close_all()
        self.hub.start()
        say(f"hub on {self.hub.url}: gunicorn and a task cluster (logs in {logs})")
        password = os.environ.get("DEMO_KHAOS_PASSWORD", "khaos-demo")
        self.khaos = Khaos(self.hub.url, password, self.args.seed)
        # What the demo itself left for Khaos is left out of the checks: the soak's
        # returns are the ones it made.
        from returns_hub.models import Posting

        self.baseline = set(Posting.objects.values_list("associated_ref", flat=True))
        connections.close_all()
        say(f"the demo left {len(self.baseline)} postings of its own; the soak begins")
        self.khaos.start()

    # --- traffic --------------------------------------------------------------------

    def run(self) -> int:
        try:
            self.setup()
            self.traffic()
            quiet = self.wait_quiet()
            self.khaos.stop()
            summary = self.summary(quiet)
        finally:
            if self.khaos is not None:
                self.khaos.stop()
            for sim in self.sims.values():
                sim.stop()
            if self.hub is not None:
                self.hub.stop()
            from config import embedded_postgres

            with contextlib.suppress(subprocess.CalledProcessError):  # pgserver logs why
                embedded_postgres.stop()  # the soak's own server, whoever is attached
        self.report(summary)
        return 0 if all(summary["checks"].values()) else 1

    def traffic(self) -> None:
        platforms = sorted(self.sims)
        share, rest = divmod(self.args.returns, len(platforms))
        remaining = {p: share + (i < rest) for i, p in enumerate(platforms)}
        batch = max(2, min(40, math.ceil(max(remaining.values()) / 15)))
        ticks = math.ceil(max(remaining.values()) / batch)
        outage = self.random.choice(platforms)
        plan = {
            "outage_from": max(1, round(ticks * 0.2)),
            "outage_until": max(2, round(ticks * 0.4)),
            "kill": max(2, round(ticks * 0.3)),
            "restart": max(3, round(ticks * 0.6)),
        }
        self.faults["outage_platform"] = outage
        say(f"{self.args.returns} returns, {batch} a platform a tick over {ticks} ticks; {plan}")
        tick = 0
        while any(remaining.values()) or not all(s.finished() for s in self.sims.values()):
            tick += 1
            if tick == plan["outage_from"]:
                self.outage(outage, True)
            if tick == plan["outage_until"]:
                self.outage(outage, False)
            sent = 0
            for platform, sim in self.sims.items():
                new = min(batch, remaining[platform])
                remaining[platform] -= new
                sent += sim.tick(new=new)
            if tick >= plan["kill"] and not self.faults["worker_killed"]:
                self.kill_worker()
            if tick == plan["restart"]:
                self.restart_database()
            backlog = self.throttle()
            opened = sum(len(s.returns) for s in self.sims.values())
            say(
                f"tick {tick}: {opened} returns opened, {sent} webhooks this tick, inbox "
                f"backlog {backlog}, Khaos has {len(self.khaos.sim.state.returns)} returns"
            )
            if tick > ticks + 40:
                say("the platforms' stories did not finish; checking what there is")
                break
        for sim in self.sims.values():
            sim.drain(timeout=60)
            sim.flush()

    def outage(self, platform: str, down: bool) -> None:
        """The platform down (its API 503, its webhooks held), or back (they go late).
        It stays down until the hub's poll has met the 503 at least once."""
        sim = self.sims[platform]
        if down:
            sim.knobs.outage = sim.knobs.hold_webhooks = True
            self.poll(platform)
            say(f"fault: {platform} is down (API 503, webhooks held)")
            return
        deadline = time.monotonic() + 60
        while not sim.faults.outage_answers and time.monotonic() < deadline:
            time.sleep(0.5)
        sim.knobs.outage = sim.knobs.hold_webhooks = False
        say(
            f"fault: {platform} is back after {sim.faults.outage_answers} API calls answered "
            f"503; {len(sim.pending)} held webhooks go late"
        )

    def poll(self, platform: str) -> None:
        """Queue the hub's poll of the platform's connection now (as its schedule would)."""
        from django_q.tasks import async_task

        from returns_hub.models import PlatformConnection

        pk = _query(lambda: PlatformConnection.objects.get(slug=f"demo-{platform}").pk)
        _query(lambda: async_task("connectors.polling.poll_connection", pk))

    def kill_worker(self) -> None:
        killed = self.hub.kill_busy_worker()
        if killed:
            self.faults["worker_killed"] += 1
            self.faults["killed_task"] = killed
            say(f"fault: cluster worker {killed} SIGKILLed mid-task")

    def restart_database(self) -> None:
        from django.db import connections

        began = time.time()
        connections.close_all()
        database.restart()
        self.restart_window = (began, time.time())
        self.faults["database_restarted"] += 1
        say(f"fault: PostgreSQL restarted (fast) in {time.time() - began:.1f} s")

    def throttle(self, seconds: float = 120) -> int:
        """Wait while the hub has more than BACKLOG deliveries to process."""
        deadline = time.monotonic() + seconds
        while True:
            backlog = _query(_backlog)
            if backlog <= BACKLOG or time.monotonic() > deadline:
                return backlog
            time.sleep(0.5)

    # --- quiet ----------------------------------------------------------------------

    def wait_quiet(self) -> bool:
        """Until every platform return is finished, the inbox processed, nothing left to
        serve, and Khaos has retried what failed; with a time limit."""
        # One last poll of every platform now (the schedule polls every minute anyway).
        for platform in self.sims:
            self.poll(platform)
        limit = self.args.quiet_seconds or 240 + self.args.returns / 10
        deadline = time.monotonic() + limit
        calm = 0
        while time.monotonic() < deadline:
            state = _query(self.state)
            quiet = (
                not state["backlog"]
                and not state["ready"]
                and not state["khaos_failed"]
                and not state["missing"]
            )
            calm = calm + 1 if quiet else 0
            if calm >= 3:
                say(f"quiet: {state}")
                return True
            say(f"waiting for quiet: {state}")
            time.sleep(3)
        say(f"not quiet after {limit:.0f} s; checking what there is")
        return False

    def state(self) -> dict:
        from returns_hub.choices import PostingState
        from returns_hub.models import Posting
        from soak.checks import expected

        due, _, _ = expected(self.sims)
        return {
            "backlog": _backlog(),
            "ready": Posting.objects.filter(state=PostingState.READY).count(),
            "khaos_failed": sum(len(v) for v in self.khaos.sim.failed.values()),
            "missing": len(set(due) - set(self.khaos.sim.state.returns)),
        }

    # --- the summary ----------------------------------------------------------------

    def summary(self, quiet: bool) -> dict:
        from soak import checks

        summary = _query(
            lambda: checks.run(
                self.sims,
                self.khaos.sim,
                self.baseline,
                self.restart_window,
                self.faults.get("killed_task", ""),
            )
        )
        summary["checks"]["quiet_within_limit"] = quiet
        webhooks = {
            "sent": sum(len(s.sent) for s in self.sims.values()),
            **{
                name: sum(getattr(s.faults, name) for s in self.sims.values())
                for name in vars(next(iter(self.sims.values())).faults)
            },
        }
        faulty = (
            webhooks["duplicated"]
            + webhooks["gave_up_mid_body"]
            + webhooks["gave_up_before_answer"]
            + webhooks["held"]
            + webhooks["failed"]
        )
        khaos = self.khaos.sim.counts
        summary["faults"] = {
            **self.faults,
            "webhooks": webhooks,
            "webhook_fault_share": round(faulty / max(1, webhooks["sent"]), 3),
            "khaos": {
                **khaos,
                "cycles": self.khaos.cycles,
                "failed_cycles": self.khaos.failed_cycles,
            },
        }
        summary["returns"]["asked"] = self.args.returns
        summary["seed"] = self.args.seed
        summary["seconds"] = round(time.monotonic() - self.began, 1)
        summary["ok"] = all(summary["checks"].values())
        return summary

    def report(self, summary: dict) -> None:
        say(f"done in {summary['seconds']:.0f} s")
        for name, passed in summary["checks"].items():
            print(f"  {'PASS' if passed else 'FAIL'}  {name}")
        print(json.dumps({k: v for k, v in summary.items() if k != "checks"}, indent=2))
        if self.args.json:
            self.args.json.write_text(json.dumps(summary, indent=2))


def _stopped(signum, frame):
    raise KeyboardInterrupt  # stopped from outside: the hub and its server are stopped too


def _backlog() -> int:
    from returns_hub.choices import InboxStatus
    from returns_hub.models import InboxDelivery

    return InboxDelivery.objects.filter(
        status__in=(InboxStatus.RECEIVED, InboxStatus.FAILED)
    ).count()


def _query(read):
    """Run ``read`` on this process's connection, opened again if the restart broke it."""
    from django.db import InterfaceError, OperationalError, connections

    for _ in range(30):
        try:
            return read()
        except (OperationalError, InterfaceError):
            connections.close_all()
            time.sleep(1)
    return read()


def _database_url() -> str:
    from benchmarks.load import database_url

    return database_url()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
