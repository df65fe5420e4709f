"""Recurring tasks, registered by name with update_or_create (safe to repeat)."""

from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "sweep-inbox",
        "func": "connectors.tasks.sweep_inbox",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


def register(**kwargs) -> None:
    for schedule in SCHEDULES:
        values = {key: value for key, value in schedule.items() if key != "name"}
        Schedule.objects.update_or_create(name=schedule["name"], defaults=values)
