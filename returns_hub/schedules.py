"""Recurring tasks, registered by name with update_or_create (safe to repeat).

``register_all`` is the one entry point: every start of the hub calls it (the
``migrate`` that ``make run`` and a deploy begin with, ``run_hub`` before it
starts the cluster, and each ``qcluster`` worker as it spawns), because
post_migrate alone never reaches an app without models such as ``connectors``.
"""

from django.db import connection, transaction
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "flag-unconfirmed-postings",
        "func": "returns_hub.tasks.flag_unconfirmed_postings",
        "schedule_type": Schedule.HOURLY,
    },
    {
        "name": "check-deadlines",
        "func": "returns_hub.tasks.check_deadlines",
        "schedule_type": Schedule.MINUTES,
        "minutes": 15,
    },
    {
        # Hourly: each enabled team's digest goes once per local day at/after its send_hour.
        "name": "send-digests",
        "func": "returns_hub.tasks.send_digests",
        "schedule_type": Schedule.HOURLY,
    },
    {
        # Finance's auto-accept rules, for differences that appear or change between imports.
        "name": "apply-reconciliation-rules",
        "func": "reconciliation.tasks.apply_rules",
        "schedule_type": Schedule.HOURLY,
    },
    {
        # A month-end pack whose worker was killed mid-build is built again.
        "name": "requeue-stalled-month-end-packs",
        "func": "reconciliation.tasks.requeue_stalled_packs",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        # Successful task results beyond the newest HUB["TASK_RESULTS_KEEP"], deleted at once
        # (not by django-q on every task: see Q_CLUSTER["save_limit"]).
        "name": "prune-task-results",
        "func": "returns_hub.tasks.prune_task_results",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]

# Any fixed number: processes registering at once (two cluster workers spawning
# together) take turns, so a name never gets two rows (Schedule.name is not unique).
_LOCK = 0x5C4ED01E


def lock() -> None:
    """Hold the registration lock until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])


def register(schedules: list[dict] = SCHEDULES) -> None:
    with transaction.atomic():
        lock()
        for schedule in schedules:
            values = {key: value for key, value in schedule.items() if key != "name"}
            # A row duplicated before this lock existed would make update_or_create fail.
            rows = Schedule.objects.filter(name=schedule["name"]).order_by("id")
            extra = list(rows.values_list("id", flat=True)[1:])
            Schedule.objects.filter(id__in=extra).delete()
            Schedule.objects.update_or_create(name=schedule["name"], defaults=values)


def register_all(**kwargs) -> list[str]:
    """Every schedule of every app, and a poll per polling connection; their names."""
    from connectors import schedules as connector_schedules

    with transaction.atomic():
        lock()
        register(SCHEDULES)
        register(connector_schedules.SCHEDULES)
        polls = connector_schedules.sync_polls()
    return [s["name"] for s in (*SCHEDULES, *connector_schedules.SCHEDULES)] + polls
