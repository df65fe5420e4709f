"""Recurring tasks, registered by name with update_or_create (safe to repeat)."""

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
]


def register(schedules: list[dict] = SCHEDULES) -> None:
    for schedule in schedules:
        values = {key: value for key, value in schedule.items() if key != "name"}
        Schedule.objects.update_or_create(name=schedule["name"], defaults=values)
