"""The ingest benchmark end to end at a tiny rate, so it cannot rot: wrk pinned beside a
pinned gunicorn, every body signed and distinct, the task cluster working the deliveries.
No timings are asserted: speed is measured by `make bench`. Needs wrk (`make loadgen`)."""

import json

import pytest
from django.core.management import call_command

from benchmarks import ingest, wrk
from benchmarks.load import free_port, stop, wait_ready
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery

pytestmark = pytest.mark.django_db(transaction=True)  # the server and cluster must see rows


@pytest.fixture
def demo(db, tmp_path):
    """The demo workspace: the demo-loop connection, its products and mappings."""
    with (tmp_path / "load_demo.txt").open("w") as out:
        call_command("load_demo", stdout=out)


def test_measures_both_receivers_and_the_cluster_works_every_delivery(demo, monkeypatch, tmp_path):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    for name, value in {"SECONDS": 1, "WARMUP": 1, "MAX_RATE": 20, "CONCURRENCY": 4}.items():
        monkeypatch.setattr(ingest, name, value)

    ingest.main()  # goals may be missed here: only what was measured is checked

    lines = [json.loads(line) for line in results.read_text().splitlines()]
    figures = {line["name"]: line for line in lines if line["kind"] == "figure"}
    throughput = figures["hub webhook under gunicorn, throughput"]
    assert throughput["ceiling"]["value"] > 0 and throughput["value"] > 0
    assert "NOT VALID" not in throughput["note"]  # every answer was 202
    half = figures["hub webhook at half the ceiling's rate, p99"]
    assert "NOT VALID" not in half["note"]
    events = next(f for name, f in figures.items() if name.startswith("processing by the task"))
    assert events["value"] > 0 and events["ceiling"]["value"] > 0
    # Every delivery stored by the hub's runs was processed, by the loop or the cluster.
    stored = InboxDelivery.objects.all()
    assert stored.count() > 20
    assert not stored.exclude(status=InboxStatus.PROCESSED).exists()
    assert stored.values("dedup_key").distinct().count() == stored.count()


def test_a_thread_that_runs_out_of_distinct_bodies_spoils_the_run(demo, tmp_path):
    load_core, server_cores = wrk.cores()
    port = free_port()
    web = ingest.server(port, server_cores)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        wrk.write_requests(tmp_path, range(1, 6), threads=1)
        url = f"http://127.0.0.1:{port}{ingest.HUB}"
        result = wrk.run(url, tmp_path, seconds=1, connections=1, on=load_core)
    finally:
        stop(web)

    assert result.out_of_requests == 1
    assert "1 wrk threads ran out of distinct requests" in result.problems()
    assert InboxDelivery.objects.count() == 5  # each body stored once
