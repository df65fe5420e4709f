"""Domain tasks for the cluster. Each is idempotent and safe to run twice."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from returns_hub.choices import ExceptionStatus
from returns_hub.models import ExceptionCase
from returns_hub.services import deadlines, engine, postings
from returns_hub.services.locks import lock_return_if_exists

logger = logging.getLogger(__name__)
BATCH = 100  # returns per re-evaluation task: well inside Q_CLUSTER's timeout


def reevaluate(return_ids: list[int]) -> int:
    """Evaluate these returns again, each under its own row lock."""
    done = 0
    for return_id in return_ids:
        with transaction.atomic():
            ret = lock_return_if_exists(return_id)
            if ret is not None:
                engine.evaluate(ret)
                done += 1
    return done


def reevaluate_held(kinds: list[str]) -> int:
    """Every return held by an open exception of these kinds moves on if it can:
    queued as short tasks of at most BATCH returns, each safe to run twice."""
    ids = list(
        ExceptionCase.objects.filter(
            status=ExceptionStatus.OPEN, kind__in=kinds, return_ref__isnull=False
        )
        .order_by("return_ref_id")
        .values_list("return_ref_id", flat=True)
        .distinct()
    )
    _queue(ids)
    logger.info("re-evaluation queued", extra={"kinds": kinds, "returns": len(ids)})
    return len(ids)


def _queue(ids: list[int]) -> None:
    for start in range(0, len(ids), BATCH):
        async_task("returns_hub.tasks.reevaluate", ids[start : start + BATCH], group="reevaluate")


def check_deadlines() -> int:
    """Returns a deadline has moved on (a settlement wait over, units overdue), re-evaluated
    in short batches: the engine opens settlement_missing or units_not_arrived."""
    ids = deadlines.overdue(timezone.now())
    _queue(ids)
    logger.info("deadlines checked", extra={"returns": len(ids)})
    return len(ids)


def flag_unconfirmed_postings(before: int | None = None) -> int:
    """A posting Khaos has not confirmed by its deadline becomes posting_unconfirmed, once.

    A batch a task: while more are overdue below the lowest id this one looked at,
    another short task goes on from there (the ids only go down, so it cannot spin);
    one it had to skip is flagged by the next scheduled run."""
    opened, lowest = postings.flag_unconfirmed_below(before)
    if lowest is not None and postings.unflagged_overdue().filter(pk__lt=lowest).exists():
        async_task("returns_hub.tasks.flag_unconfirmed_postings", lowest, group="deadlines")
    return opened


def send_digests() -> list[str]:
    """Each enabled team's daily digest that is due (once per local day); the teams sent."""
    from returns_hub.services import digests

    return [outcome.team for outcome in digests.send_due() if outcome.sent]


# The newest successes, and each function's last (check_timeouts reads its own), are kept.
PRUNE = """
    DELETE FROM django_q_task
    WHERE success
      AND id IN (SELECT id FROM django_q_task WHERE success ORDER BY stopped DESC OFFSET %s)
      AND id NOT IN (
          SELECT DISTINCT ON (func) id FROM django_q_task WHERE success ORDER BY func, stopped DESC
      )
"""


def prune_task_results() -> int:
    """Delete successful task results beyond the newest HUB["TASK_RESULTS_KEEP"], in one
    statement a minute; failures are kept. django-q's own pruning (save_limit) would read
    and lock every kept result on each task instead."""
    with connection.cursor() as cursor:
        cursor.execute(PRUNE, [settings.HUB["TASK_RESULTS_KEEP"]])
        deleted = cursor.rowcount
    logger.info("task results pruned", extra={"deleted": deleted})
    return deleted
