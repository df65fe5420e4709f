"""Stored deliveries worked off by the task cluster itself (`manage.py qcluster`).

The receiver queued a task per delivery while no cluster ran, so the tasks wait in
django-q's queue (the ORM broker). The cluster is started with a worker per core and
the inbox polled until every delivery is done. The rate is taken between the first
and the last delivery processed (their ``processed_at``), so the cluster's start-up
is not in it; the start-up (launch to first delivery done) is given beside it.

Needs Django set up by the caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from django.db import connection, connections
from django.db.models import Count, Max, Min, Q
from django_q.models import OrmQ

from benchmarks.load import ROOT, database_url, stop
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, TimelineEntry

WAITING = (InboxStatus.RECEIVED, InboxStatus.FAILED)


def cluster_env(workers: int) -> dict:
    """As production runs the cluster, on the ORM broker (no REDIS_URL), logging warnings."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return {
        **env,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "Q_WORKERS": str(workers),
    }


def start_cluster(workers: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=cluster_env(workers),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait(done, seconds: float, cluster: subprocess.Popen, log, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if cluster.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            tail = log.read()[-3000:].decode(errors="replace")
            raise RuntimeError(f"{what} (cluster status {cluster.poll()}):\n{tail}")
        time.sleep(0.5)


def drain_queue(workers: int, seconds: float = 1800) -> int:
    """Tasks left in the queue by an earlier run, worked off before anything is timed."""
    left = OrmQ.objects.count()
    if left:
        with tempfile.TemporaryFile() as log:
            cluster = start_cluster(workers, log)
            try:
                _wait(
                    lambda: not OrmQ.objects.exists(),
                    seconds,
                    cluster,
                    log,
                    "the earlier queue was not drained",
                )
            finally:
                stop(cluster)
    return left


@dataclass
class Processed:
    deliveries: int  # stored after ``after_id``
    processed: int  # of those, processed (not failed, invalid or ignored)
    events: int  # timeline entries with an event key, from those deliveries
    seconds: float  # first delivery processed to last
    startup: float  # cluster launched to first delivery processed
    wall: float  # cluster launched to every delivery done (as polled)
    workers: int

    @property
    def deliveries_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def process(after_id: int, upto_id: int, workers: int, seconds: float = 1800) -> Processed:
    """Start the cluster and wait until every delivery stored after ``after_id`` up to
    ``upto_id`` is done (the cluster works whatever else is queued too)."""
    ours = InboxDelivery.objects.filter(id__gt=after_id, id__lte=upto_id)
    total = ours.count()
    with tempfile.TemporaryFile() as log:
        launched = time.time()
        cluster = start_cluster(workers, log)
        try:
            _wait(
                lambda: not ours.filter(status__in=WAITING).exists(),
                seconds,
                cluster,
                log,
                f"{ours.filter(status__in=WAITING).count()} of {total} deliveries not done",
            )
            wall = time.time() - launched
        finally:
            stop(cluster)
    done = ours.aggregate(
        first=Min("processed_at"),
        last=Max("processed_at"),
        processed=Count("id", filter=Q(status=InboxStatus.PROCESSED)),
    )
    events = TimelineEntry.objects.filter(
        delivery_id__gt=after_id, delivery_id__lte=upto_id, event_key__isnull=False
    )
    first, last = done["first"], done["last"]
    return Processed(
        deliveries=total,
        processed=done["processed"],
        events=events.count(),
        seconds=(last - first).total_seconds() if first else 0.0,
        startup=first.timestamp() - launched if first else wall,
        wall=wall,
        workers=workers,
    )


def in_process(ids: list[int], workers: int) -> tuple[float, int]:
    """The ceiling: the same task function called in a loop, a process per core, no
    queue and no cluster. Its seconds and the events made."""
    connection.close()  # each process opens its own
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_process, [ids[i::workers] for i in range(workers)]))
    took = time.perf_counter() - began
    events = TimelineEntry.objects.filter(delivery_id__in=ids, event_key__isnull=False)
    return took, events.count()


def _process(ids: list[int]) -> int:
    from connectors.tasks import process_delivery

    connections.close_all()
    for delivery_id in ids:
        process_delivery(delivery_id)
    return len(ids)
