"""Task results are pruned once a minute, not by django-q on every task.

django-q's own pruning (Q_CLUSTER save_limit above 0) reads and locks every kept success
in the one monitor process after each task: with 10,000 kept, the cluster worked a few
deliveries a second (`benchmarks.ingest`).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django_q.models import Failure, Success, Task

from returns_hub import tasks

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _task(n: int, func: str, *, success: bool = True) -> Task:
    return Task.objects.create(
        id=f"t{n:04d}{'s' if success else 'f'}",
        name=f"task-{n}",
        func=func,
        started=T0 + timedelta(seconds=n),
        stopped=T0 + timedelta(seconds=n),
        success=success,
    )


def test_the_monitor_prunes_nothing_per_task():
    assert settings.Q_CLUSTER["save_limit"] == 0


def test_keeps_the_newest_successes_each_functions_last_and_every_failure(settings):
    settings.HUB = {**settings.HUB, "TASK_RESULTS_KEEP": 5}
    _task(0, "connectors.tasks.check_timeouts")  # its last run: kept though old
    for n in range(1, 21):
        _task(n, "connectors.tasks.process_delivery")
    _task(99, "connectors.tasks.process_delivery", success=False)

    assert tasks.prune_task_results() == 15

    kept = set(Success.objects.values_list("name", flat=True))
    assert kept == {"task-0"} | {f"task-{n}" for n in range(16, 21)}
    assert Failure.objects.count() == 1
    assert tasks.prune_task_results() == 0  # nothing more to prune
