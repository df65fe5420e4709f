"""Valid webhooks under steady load: not one may fail.

Concurrent senders post signed webhooks for a minute to the hub served as
`make run` serves it (run_hub's gunicorn command, a connection pool per worker),
while the database's connections are counted from pg_stat_activity.
Prints requests, 5xx answers (goal: 0), transport errors (goal: 0) and the
peak of connections beside what the pool settings allow.

    python -m benchmarks.soak      # BENCH_SOAK_SECONDS (60), BENCH_CONCURRENCY (16)
"""

import asyncio
import os
import sys
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

import httpx  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks import load, report  # noqa: E402
from returns_hub.management.commands.run_hub import web_command  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "60"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))


async def senders(base: str, counts: dict) -> None:
    deadline = time.monotonic() + SECONDS
    numbers = iter(range(3 * 10**7, 10**9))
    async with load.client() as client:

        async def sender():
            while time.monotonic() < deadline:
                raw, headers = load.signed(next(numbers))
                counts["requests"] += 1
                try:
                    response = await client.post(
                        f"{base}{load.WEBHOOK_PATH}", content=raw, headers=headers
                    )
                except httpx.TransportError as exc:
                    counts["transport"] += 1
                    counts.setdefault("first_error", repr(exc))
                    continue
                if response.status_code >= 500:
                    counts["5xx"] += 1
                    counts.setdefault("first_error", response.text[:300])
                elif response.status_code != 202:
                    counts["other"] += 1

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))


def count_connections(stop: threading.Event, peak: list[int]) -> None:
    """Clients' connections to the database (not autovacuum's, nor this count's own),
    four times a second."""
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as own:
        while not stop.is_set():
            row = own.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            peak[0] = max(peak[0], row[0])
            stop.wait(0.25)


def main() -> int:
    port = load.free_port()
    env = {
        "DATABASE_URL": load.database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "LOG_LEVEL": "WARNING",
    }
    connection.close()  # this process holds none while the count runs
    if connection.pool:
        connection.close_pool()
    server = load.start([*web_command(port), "--log-level", "warning"], env)
    counts = {"requests": 0, "5xx": 0, "transport": 0, "other": 0}
    peak, stop = [0], threading.Event()
    counter = threading.Thread(target=count_connections, args=(stop, peak), daemon=True)
    try:
        base = f"http://127.0.0.1:{port}"
        load.wait_ready(f"{base}/healthz")
        counter.start()
        began = time.perf_counter()
        asyncio.run(senders(base, counts))
        took = time.perf_counter() - began
    finally:
        stop.set()
        load.stop(server)
    web = settings.HUB_WEB
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool") or {}
    allowed = web["WORKERS"] * pool.get("max_size", web["THREADS"])
    print(
        f"soak: {counts['requests']:,} signed webhooks in {took:.0f} s from {CONCURRENCY} "
        f"senders ({counts['requests'] / took:.0f}/s): {counts['5xx']} answered 5xx, "
        f"{counts['transport']} transport errors, {counts['other']} other (goals: 0)"
    )
    print(
        f"peak PostgreSQL connections to the database: {peak[0]} (web: {web['WORKERS']} workers "
        f"x pool of {pool.get('max_size', '-')} = at most {allowed})"
    )
    if "first_error" in counts:
        print(f"first failure: {counts['first_error']}")
    failed = counts["5xx"] or counts["transport"] or counts["other"] or peak[0] > allowed
    report.record(
        "soak",
        "signed webhooks answered 5xx, transport errors or other failures",
        value=counts["5xx"] + counts["transport"] + counts["other"],
        unit="",
        goal=0,
        note=(
            f"{counts['requests']:,} webhooks in {took:.0f} s from {CONCURRENCY} senders "
            f"({counts['requests'] / took:.0f}/s): {counts['5xx']} 5xx, "
            f"{counts['transport']} transport, {counts['other']} other"
        ),
    )
    report.record(
        "soak",
        "peak PostgreSQL connections to the database",
        value=peak[0],
        unit="",
        goal=allowed,
        note=f"{web['WORKERS']} workers x pool of {pool.get('max_size', '-')}",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
