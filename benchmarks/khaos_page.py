"""How long Khaos waits for a page of 1,000 returns, with a million stored.

Run by `make bench` against its own database (HUB_DB_NAME=returns_hub_bench),
after `generate_returns --until 1000000`. Each page is a real request through
Django (Basic auth, locking, numbering, marking, rendering), in process.
"""

import base64
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

from django.test import Client  # noqa: E402

from benchmarks import profiling, report  # noqa: E402
from returns_hub.models import KhaosChannel, Posting, Return  # noqa: E402

GOAL_MS = 300
PAGES = int(os.environ.get("BENCH_PAGES", "15"))


def main() -> int:
    channel = KhaosChannel.objects.get(slug="demo")
    channel.batch_size = 1000
    channel.save()
    password = os.environ.get("DEMO_KHAOS_PASSWORD", "khaos-demo")
    auth = base64.b64encode(f"{channel.username}:{password}".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=f"Basic {auth}", SERVER_NAME="localhost")
    stored = Return.objects.count()
    print(f"{stored:,} returns stored; {Posting.objects.filter(state='ready').count():,} ready")

    def page(token):
        start = time.perf_counter()
        response = client.get("/khaos/demo/returns", HTTP_SIRION_CONTINUATION=token)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.status_code
        return elapsed, response["Sirion-Continuation"], response.content.count(b'"ProcessReturn"')

    last = Posting.objects.filter(channel=channel, kind="return").order_by("-serve_seq")
    token = f"hub-{(last.values_list('serve_seq', flat=True).first() or 0)}"
    first_token = token
    fresh, served = [], 0
    for _ in range(PAGES):  # pages never served before: numbered and marked as they go
        elapsed, token, count = page(token)
        fresh.append(elapsed)
        served += count
    again = [page(first_token)[0] for _ in range(PAGES)]  # Khaos lost an answer and asks again
    explain = {"new page": lambda: page(token), "page served again": lambda: page(first_token)}
    for name, timings in (("new page", fresh), ("page served again", again)):
        p50 = statistics.median(timings)
        p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
        print(
            f"{name:>18}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(timings):6.1f} ms "
            f"({len(timings)} pages of 1,000; goal <= {GOAL_MS} ms)"
        )
        report.record(
            "khaos_page",
            f"{name} of 1,000 returns",
            p50=p50,
            p95=p95,
            goal=GOAL_MS,
            note=f"max {max(timings):.1f} ms over {len(timings)} pages",
            profile=profiling.if_missed(p50 > GOAL_MS, explain[name]),
        )
    print(f"served {served:,} returns in {PAGES} new pages")
    report.context(
        "khaos_page",
        f"{stored:,} returns stored; served {served:,} returns in {PAGES} new pages, then the "
        "first page again as often; a real request through Django, in process",
    )
    return 0 if statistics.median(fresh) <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
