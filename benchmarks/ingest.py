"""Webhook ingest under gunicorn beside a minimal receiver; then processing by the cluster.

1. The ceiling: a view that verifies the signature and inserts one row
   (benchmarks/urls.py), at full load and at half its load.
2. The hub's receiver (/webhooks/loop/demo-loop/): find the connection, check size
   and signature, parse, store the delivery whole, queue its task, 202. Goals: at
   least 60% of the ceiling's requests a second, and p99 under 50 ms at half the
   ceiling's rate.
3. Processing: the deliveries stored in 2, worked off by `manage.py qcluster` (ORM
   broker, a worker per core) from inbox to timeline events and postings. Goal: at
   least 500 events a second. Its ceiling: the warm-up's deliveries through the same
   task function in a loop, a process per core, no queue.

A missed goal is recorded with a cProfile, in this process, of the receiver (through
Django's test client) or of the task, on deliveries of their own.

Both receivers are served by one gunicorn, as `make run` starts it (run_hub's command,
DEBUG off), pinned to the second core with taskset; the load generator is wrk, compiled,
pinned to the first core, so the ceiling is the server's and not the client's.
PostgreSQL is not pinned. Every body is signed and distinct (signed beforehand, sent
once each), and every answer must be 202. wrk measures a request's latency from when it
is sent; at half load each request takes the next slot of a fixed schedule, so a late
answer delays no later request (the rate is kept while the server keeps up).

    python -m benchmarks.ingest     # BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_WORKERS to scale
                                    # (BENCH_MAX_RATE caps every run, for a smoke run)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
django.setup()

from django.db import connection  # noqa: E402

from benchmarks import processing, profiling, report, wrk  # noqa: E402
from benchmarks.load import ROOT, free_port, signed, stop, wait_ready  # noqa: E402
from connectors.tasks import process_delivery  # noqa: E402
from returns_hub.management.commands.run_hub import web_command  # noqa: E402
from returns_hub.models import InboxDelivery  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WARMUP = float(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))
THREADS = 1  # wrk threads: one core is the load generator's
# Caps every run's rate (requests a second; 0: none), for a smoke run of a few deliveries.
MAX_RATE = float(os.environ.get("BENCH_MAX_RATE", "0"))
MINIMAL = "/bench/minimal/"
HUB = "/webhooks/loop/demo-loop/"
# Request numbers per phase, so no two phases (nor runs, see load.RUN) share a body.
FIRST = {"minimal": 1, "warm": 10**6, "hub": 2 * 10**6, "half": 3 * 10**6}


def server(port: int, on: list[int]):
    """gunicorn as `make run` starts it (workers, threads, pool), serving the hub's URLs
    and the minimal view."""
    command = [part if part != "config.wsgi" else "benchmarks.wsgi" for part in web_command(port)]
    # No worker replaced during the runs (--max-requests): a restart, a second of Django
    # start-up on the server's one core, would land in one run and not the other.
    for option in ("--max-requests", "--max-requests-jitter"):
        if option in command:
            at = command.index(option)
            del command[at : at + 2]
    # The cluster's environment: the ORM broker, so the tasks wait in the database.
    env = processing.cluster_env(WORKERS)
    command = wrk.pinned([*command, "--log-level", "warning"], on)
    return subprocess.Popen(command, cwd=ROOT, env=env)


def measure(base: str, folder: Path, load_core: list[int]) -> tuple[dict[str, wrk.Result], int]:
    """The four runs, each with requests signed for it beforehand; and the last delivery
    the hub's warm-up stored."""

    def requests(phase: str, count: int) -> Path:
        path = folder / phase
        wrk.write_requests(path, range(FIRST[phase], FIRST[phase] + count), THREADS)
        return path

    def post(path: str, requests: Path, seconds: float, rate: float = 0.0, **kw) -> wrk.Result:
        if MAX_RATE:
            rate = min(rate or MAX_RATE, MAX_RATE)
        return wrk.run(
            f"{base}{path}",
            requests,
            seconds=seconds,
            connections=CONCURRENCY,
            threads=THREADS,
            on=load_core,
            rate=rate,
            **kw,
        )

    minimal = requests("minimal", 2000)  # the minimal view keeps every body: reused
    post(MINIMAL, minimal, WARMUP, cycle=True)
    runs = {"ceiling": post(MINIMAL, minimal, SECONDS, cycle=True)}
    rate = runs["ceiling"].rps
    runs["ceiling at half load"] = post(MINIMAL, minimal, SECONDS, cycle=True, rate=rate / 2)
    # Enough distinct requests for the hub even at one and a half times the ceiling.
    post(HUB, requests("warm", int(rate * WARMUP * 1.5) + 1000), WARMUP)
    warmed = last_delivery()  # the warm-up's deliveries: the processing ceiling's
    runs["hub"] = post(HUB, requests("hub", int(rate * SECONDS * 1.5) + 1000), SECONDS)
    half = requests("half", int(rate / 2 * SECONDS * 1.2) + 500)
    runs["hub at half load"] = post(HUB, half, SECONDS, rate=rate / 2)
    return runs, warmed


def receive_in_process(count: int = 200) -> list[int]:
    """The hub's receiver called in this process (Django's test client), for a profile of
    where a webhook's time goes; the deliveries it stored, queued as any other."""
    from django.test import Client

    client, first, before = Client(HTTP_HOST="127.0.0.1"), 4 * 10**6, last_delivery()
    for n in range(first, first + count):
        raw, headers = signed(n)
        client.post(HUB, raw, content_type="application/json", headers=headers)
    return list(InboxDelivery.objects.filter(id__gt=before).values_list("id", flat=True))


def last_delivery() -> int:
    return InboxDelivery.objects.order_by("-id").values_list("id", flat=True).first() or 0


def main() -> int:
    wrk.require()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_minimal (id bigserial primary key, "
            "body bytea not null, at timestamptz default now())"
        )
        cursor.execute("TRUNCATE bench_minimal")  # the ceiling inserts into a small table
    load_core, server_cores = wrk.cores()
    left = processing.drain_queue(WORKERS)
    if left:
        print(f"worked off {left} tasks an earlier run left queued, before timing anything")
    after_id = last_delivery()
    connection.close()

    port = free_port()
    web = server(port, server_cores)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz")
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
            runs, warmed = measure(base, Path(folder), load_core)
    finally:
        stop(web)

    print(f"{'receiver':<36}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}  answers")
    for name, run in runs.items():
        answers = ", ".join(f"{n} x {s}" for s, n in sorted(run.statuses.items()))
        print(f"{name:<36}{run.rps:>9.0f}{run.p50:>9.1f}{run.p90:>9.1f}{run.p99:>9.1f}  {answers}")
    problems = {name: run.problems() for name, run in runs.items() if run.problems()}
    for name, found in problems.items():
        print(f"{name}: {'; '.join(found)}")
    ceiling, hub = runs["ceiling"], runs["hub"]
    half, ceiling_half = runs["hub at half load"], runs["ceiling at half load"]
    share = hub.rps / ceiling.rps
    print(f"hub / ceiling: {share:.0%} (goal >= 60%); p99 at half load {half.p99:.1f} ms (< 50)")

    # The warm-up's deliveries in process first (the ceiling); the cluster skips them.
    warm = list(
        InboxDelivery.objects.filter(id__gt=after_id, id__lte=warmed).values_list("id", flat=True)
    )
    loop_seconds, loop_events = processing.in_process(warm, WORKERS)
    done = processing.process(warmed, last_delivery(), WORKERS)
    print(
        f"processing by the task cluster ({done.workers} workers): {done.processed:,} of "
        f"{done.deliveries:,} deliveries, {done.events:,} events in {done.seconds:.1f} s = "
        f"{done.deliveries_per_second:.0f} deliveries/s, {done.events_per_second:.0f} events/s "
        f"(goal >= 500); cluster start-up {done.startup:.1f} s"
    )
    all_processed = done.processed == done.deliveries
    missed = done.events_per_second < 500 or not all_processed

    # A missed goal is shown with where the time goes, profiled in this process once the
    # cluster has stopped: the receiver storing deliveries of its own, then the task
    # processing them (their queued tasks find them done and skip them).
    profiled: list[int] = []
    receiving = ""
    if share < 0.6 or half.p99 >= 50:
        receiving = profiling.profile(lambda: profiled.extend(receive_in_process()))
    if missed and not profiled:
        profiled = receive_in_process(50)
    processing_profile = profiling.if_missed(
        missed, lambda: [process_delivery(i) for i in profiled[:50]]
    )

    report.context(
        "ingest",
        f"gunicorn as `make run` starts it (DEBUG off, no worker replaced during the runs) "
        f"pinned to core {','.join(map(str, server_cores))}; wrk (1 thread, {CONCURRENCY} "
        f"connections, distinct pre-signed bodies, every answer checked to be 202) pinned to "
        f"core {','.join(map(str, load_core))}; PostgreSQL not pinned. {SECONDS:.0f} s a run "
        f"after {WARMUP:.0f} s of warm-up. Half load: wrk paced by a fixed schedule in its Lua "
        "script (wrk2 is not in Debian).",
    )
    report.context(
        "ingest",
        f"Processing: the deliveries the hub's runs stored, worked off by `manage.py qcluster` "
        f"(ORM broker, {WORKERS} workers, not pinned) started once the web server had "
        "stopped; the rate from the first delivery processed to the last. Its ceiling: the "
        "warm-up's deliveries through the same task function in a loop, a process per core.",
    )

    def valid(*names: str) -> bool:
        return not any(problems.get(name) for name in names)

    def trouble(*names: str) -> str:
        found = [f"{n}: {'; '.join(problems[n])}" for n in names if problems.get(n)]
        return (" NOT VALID: " + " / ".join(found)) if found else ""

    def latencies(run: wrk.Result) -> str:
        return f"{run.rps:,.0f} req/s, p50 {run.p50:.1f} ms, p90 {run.p90:.1f}, p99 {run.p99:.1f}"

    report.record(
        "ingest",
        "hub webhook under gunicorn, throughput",
        value=hub.rps,
        unit="req/s",
        goal=0.6 * ceiling.rps,
        goal_op=">=",
        ceiling={"name": "minimal verify + insert view", "value": ceiling.rps},
        passed=share >= 0.6 and valid("ceiling", "hub"),
        note=f"goal: 60% of the ceiling; {hub.requests:,} answers, all 202"
        + trouble("ceiling", "hub"),
        profile=receiving if share < 0.6 else "",
    )
    for what in ("p50", "p99"):
        report.record(
            "ingest",
            f"hub webhook at full load, {what}",
            value=getattr(hub, what),
            unit="ms",
            ceiling={"name": f"minimal view, {what}", "value": getattr(ceiling, what)},
            note=f"hub {latencies(hub)}; minimal {latencies(ceiling)}",
        )
    report.record(
        "ingest",
        "hub webhook at half the ceiling's rate, p99",
        value=half.p99,
        unit="ms",
        goal=50,
        goal_op="<",
        ceiling={"name": "minimal view at the same rate, p99", "value": ceiling_half.p99},
        passed=half.p99 < 50 and valid("hub at half load"),
        note=f"target {ceiling.rps / 2:,.0f} req/s; hub {latencies(half)}; "
        f"minimal {latencies(ceiling_half)}" + trouble("hub at half load", "ceiling at half load"),
        profile=receiving if half.p99 >= 50 else "",
    )

    report.record(
        "ingest",
        f"processing by the task cluster ({done.workers} workers, ORM broker), events",
        value=done.events_per_second,
        unit="events/s",
        goal=500,
        goal_op=">=",
        passed=not missed,
        profile=processing_profile,
        ceiling={
            "name": f"the task function in a loop, {WORKERS} processes, no queue",
            "value": loop_events / loop_seconds,
        },
        note=(
            f"{done.processed:,} of {done.deliveries:,} deliveries processed, {done.events:,} "
            f"events, {done.seconds:.1f} s from the first delivery done to the last; ceiling: "
            f"{len(warm):,} other deliveries, {loop_events:,} events in {loop_seconds:.1f} s"
        ),
    )
    report.record(
        "ingest",
        "processing by the task cluster, deliveries",
        value=done.deliveries_per_second,
        unit="deliveries/s",
        note=f"{done.events / max(done.processed, 1):.1f} events a delivery (Loop snapshots)",
    )
    report.record(
        "ingest",
        "the cluster's start-up (launch to first delivery processed)",
        value=done.startup,
        unit="s",
        note=f"not in the rates above; launch to last delivery done {done.wall:.1f} s",
    )
    ok = (
        share >= 0.6
        and half.p99 < 50
        and not problems
        and done.events_per_second >= 500
        and all_processed
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
