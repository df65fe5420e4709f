"""A web worker's memory under load: 4,000 signed webhooks and 200 Khaos pages.

The server is started exactly as `make run` starts it (run_hub's gunicorn
command, DEBUG on as `make run` has it), on the bench database. Each worker's
resident memory is sampled through the load and again once it is idle.
Goal: no worker above 150 MB, during the load or after it.

    python -m benchmarks.memory            # BENCH_WEBHOOKS, BENCH_KHAOS_PAGES to scale
"""

import asyncio
import contextlib
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

import psutil  # noqa: E402

from benchmarks import load, report  # noqa: E402
from returns_hub.management.commands.run_hub import web_command  # noqa: E402
from returns_hub.models import KhaosChannel  # noqa: E402

GOAL_MB = 150
WEBHOOKS = int(os.environ.get("BENCH_WEBHOOKS", "4000"))
PAGES = int(os.environ.get("BENCH_KHAOS_PAGES", "200"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
# Khaos itself polls one page at a time; several at once is the worst case for a
# threaded server, each thread holding a page's documents at the same moment.
KHAOS_CONCURRENCY = int(os.environ.get("BENCH_KHAOS_CONCURRENCY", "4"))
MB = 1024 * 1024


async def traffic(base: str, counts: dict) -> None:
    async with load.client() as client:
        numbers = iter(range(10**7, 10**7 + WEBHOOKS))

        async def sender():
            for n in numbers:
                raw, headers = load.signed(n)
                response = await client.post(
                    f"{base}{load.WEBHOOK_PATH}", content=raw, headers=headers
                )
                counts["webhooks"] = counts.get("webhooks", 0) + 1
                if response.status_code >= 500:
                    counts["5xx"] = counts.get("5xx", 0) + 1

        await asyncio.gather(
            *(sender() for _ in range(CONCURRENCY)),
            *(
                load.khaos_pages(client, base, share, counts)
                for share in _shares(PAGES, KHAOS_CONCURRENCY)
            ),
        )


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def rss(processes: list[psutil.Process]) -> dict[int, int]:
    sizes = {}
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker recycled by --max-requests
            sizes[process.pid] = process.memory_info().rss
    return sizes


def main() -> int:
    # Khaos's pages are of 1,000 documents.
    KhaosChannel.objects.filter(slug="demo").update(batch_size=1000)
    port = load.free_port()
    env = {
        "DATABASE_URL": load.database_url(),
        "DEBUG": os.environ.get("DEBUG", "true"),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "LOG_LEVEL": "WARNING",
    }
    server = load.start([*web_command(port), "--log-level", "warning"], env)
    peak: dict[int, int] = {}
    counts: dict[str, int] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        load.wait_ready(f"{base}/healthz")
        started = rss(load.workers(server))
        began = time.perf_counter()
        job = asyncio.new_event_loop()
        task = job.create_task(traffic(base, counts))
        while not task.done():
            job.run_until_complete(asyncio.sleep(0.25))
            for pid, size in rss(load.workers(server)).items():
                peak[pid] = max(peak.get(pid, 0), size)
        task.result()
        job.close()
        took = time.perf_counter() - began
        time.sleep(2)  # idle: what a worker keeps, not what it needed for a moment
        settled = rss(load.workers(server))
    finally:
        load.stop(server)
    print(
        f"memory: {counts.get('webhooks', 0):,} webhooks and {counts.get('khaos', 0)} Khaos pages "
        f"in {took:.1f} s, {counts.get('5xx', 0)} answered 5xx"
    )
    for pid, size in sorted(peak.items()):
        before = f"{started[pid] / MB:6.1f} MB" if pid in started else "(a replacement)"
        after = f"{settled[pid] / MB:6.1f} MB" if pid in settled else "(replaced)"
        print(f"  worker {pid}: at start {before}, peak {size / MB:6.1f} MB, idle after {after}")
    worst = max(peak.values(), default=0) / MB
    # Beside it, what a worker holds once started, before the load: the app itself.
    baseline = max(started.values(), default=0) / MB
    print(f"largest web worker: {worst:.1f} MB (goal <= {GOAL_MB} MB)")
    report.record(
        "memory",
        "largest web worker's peak RSS under load",
        value=worst,
        unit="MB",
        goal=GOAL_MB,
        ceiling={"name": "largest worker once started, before the load", "value": baseline},
        passed=worst <= GOAL_MB and not counts.get("5xx"),
        note=(
            f"{counts.get('webhooks', 0):,} webhooks and {counts.get('khaos', 0)} Khaos pages "
            f"in {took:.1f} s, {counts.get('5xx', 0)} answered 5xx"
        ),
    )
    return 0 if worst <= GOAL_MB and not counts.get("5xx") else 1


if __name__ == "__main__":
    sys.exit(main())
