"""The connectors' recurring tasks."""

from django_q.models import Schedule

from returns_hub import schedules

SCHEDULES = [
    {
        "name": "sweep-inbox",
        "func": "connectors.tasks.sweep_inbox",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


def register(**kwargs) -> None:
    schedules.register(SCHEDULES)
