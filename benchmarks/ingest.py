"""Webhook ingest under gunicorn, beside a minimal receiver; then event processing.

1. The ceiling: a view that verifies the signature and inserts one row.
2. The hub's receiver (/webhooks/loop/demo-loop/): find the connection, check
   size and signature, parse, store the delivery whole, queue its task, 202.
   Goal: at least 60% of the ceiling's throughput, and p99 under 50 ms at half
   the ceiling's load.
3. Processing: the stored deliveries through parser and engine to timeline
   events and postings, in process. Goal: at least 500 events a second.

Run by `make bench` on the bench database.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
django.setup()

import httpx  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.load import ROOT, free_port, signed  # noqa: E402
from benchmarks.load import database_url as _database_url  # noqa: E402
from benchmarks.load import wait_ready as _wait  # noqa: E402
from connectors.tasks import process_delivery  # noqa: E402
from returns_hub.models import InboxDelivery, TimelineEntry  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))


async def load(url: str, seconds: float, *, rate: float | None = None, start: int = 0):
    latencies, counter = [], [start]
    deadline = time.perf_counter() + seconds
    interval = CONCURRENCY / rate if rate else 0.0
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker():
            while time.perf_counter() < deadline:
                counter[0] += 1
                raw, headers = signed(counter[0])
                began = time.perf_counter()
                response = await client.post(url, content=raw, headers=headers)
                elapsed = time.perf_counter() - began
                assert response.status_code == 202, (response.status_code, response.text[:200])
                latencies.append(elapsed * 1000)
                if interval:
                    await asyncio.sleep(max(0.0, interval - elapsed))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        took = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / took,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "n": len(latencies),
        "next": counter[0],
    }


def main() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_minimal (id bigserial primary key, "
            "body bytea not null, at timestamptz default now())"
        )
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DATABASE_URL": _database_url(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}"
        asyncio.run(load(f"{base}/bench/minimal/", 1.0))  # warm up
        ceiling = asyncio.run(load(f"{base}/bench/minimal/", SECONDS))
        start = InboxDelivery.objects.order_by("-id").values_list("id", flat=True).first() or 0
        hub = asyncio.run(load(f"{base}/webhooks/loop/demo-loop/", SECONDS, start=10**6))
        half = asyncio.run(
            load(
                f"{base}/webhooks/loop/demo-loop/",
                SECONDS,
                rate=ceiling["rps"] / 2,
                start=hub["next"],
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{'receiver':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, row in (
        ("minimal (verify + insert)", ceiling),
        ("hub webhook", hub),
        ("hub webhook at half the ceiling", half),
    ):
        print(f"{name:<34}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}")
    share = hub["rps"] / ceiling["rps"]
    print(
        f"hub / ceiling: {share:.0%} (goal >= 60%); p99 at half load {half['p99']:.1f} ms "
        "(goal < 50 ms)"
    )
    minimal = {"name": "minimal verify + insert view", "value": ceiling["rps"]}
    report.record(
        "ingest",
        "hub webhook under gunicorn, throughput",
        value=hub["rps"],
        unit="req/s",
        goal=0.6 * ceiling["rps"],
        goal_op=">=",
        ceiling=minimal,
        note=(
            f"goal >= 60% of the ceiling; hub p50 {hub['p50']:.1f} ms, p99 {hub['p99']:.1f} ms; "
            f"ceiling p50 {ceiling['p50']:.1f} ms, p99 {ceiling['p99']:.1f} ms"
        ),
    )
    report.record(
        "ingest",
        "hub webhook at half the ceiling's load, p99",
        value=half["p99"],
        unit="ms",
        goal=50,
        goal_op="<",
        ceiling={"name": "minimal view at full load, p99", "value": ceiling["p99"]},
        note=f"{half['rps']:.0f} req/s, p50 {half['p50']:.1f} ms",
    )

    pending = list(
        InboxDelivery.objects.filter(id__gt=start, status="received")
        .order_by("id")
        .values_list("id", flat=True)[:3000]
    )
    events_before = TimelineEntry.objects.filter(event_key__isnull=False).count()
    connection.close()  # each worker process opens its own
    began = time.perf_counter()
    # As the task cluster runs them: one worker process per core.
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(_process, [pending[i::WORKERS] for i in range(WORKERS)]))
    took = time.perf_counter() - began
    events = TimelineEntry.objects.filter(event_key__isnull=False).count() - events_before
    print(
        f"processing ({WORKERS} workers): {len(pending)} deliveries, {events} events in "
        f"{took:.1f} s = "
        f"{events / took:.0f} events/s (goal >= 500)"
    )
    report.record(
        "ingest",
        f"processing, inbox to postings ({WORKERS} worker processes)",
        value=events / took,
        unit="events/s",
        goal=500,
        goal_op=">=",
        note=(
            f"{len(pending)} deliveries ({len(pending) / took:.0f}/s), "
            f"{events} events in {took:.1f} s"
        ),
    )
    ok = share >= 0.6 and half["p99"] < 50 and events / took >= 500
    return 0 if ok else 1


def _process(ids: list[int]) -> int:
    from django.db import connections

    connections.close_all()
    for delivery_id in ids:
        process_delivery(delivery_id)
    return len(ids)


if __name__ == "__main__":
    sys.exit(main())
