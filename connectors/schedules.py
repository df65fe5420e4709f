"""The connectors' recurring tasks (registered by ``returns_hub.schedules.register_all``)."""

from django.db import transaction
from django_q.models import Schedule

from returns_hub import schedules

SCHEDULES = [
    {
        "name": "sweep-inbox",
        "func": "connectors.tasks.sweep_inbox",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        # Tasks stopped at Q_CLUSTER["timeout"] are logged and shown, not lost in silence.
        "name": "check-task-timeouts",
        "func": "connectors.tasks.check_timeouts",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        # Grades people gave on the hub, told to their platforms (the platform outbox).
        "name": "send-write-backs",
        "func": "connectors.writeback.send_due",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


def register(**kwargs) -> None:
    schedules.register(SCHEDULES)


def sync_polls(**kwargs) -> list[str]:
    """One schedule per connection that polls, by name; none for the others."""
    from returns_hub.models import PlatformConnection

    polling = PlatformConnection.objects.filter(enabled=True, poll_minutes__gt=0).exclude(
        base_url=""
    )
    wanted = set()
    with transaction.atomic():
        schedules.lock()  # in turn with a start registering everything
        for connection in polling:
            name = f"poll-{connection.slug}"
            wanted.add(name)
            defaults = {
                "func": "connectors.polling.poll_connection",
                "args": str(connection.pk),
                "schedule_type": Schedule.MINUTES,
                "minutes": connection.poll_minutes,
            }
            Schedule.objects.update_or_create(name=name, defaults=defaults)
        Schedule.objects.filter(name__startswith="poll-").exclude(name__in=wanted).delete()
    return sorted(wanted)
