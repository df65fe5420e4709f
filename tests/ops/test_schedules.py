"""Every schedule is registered wherever the hub starts, once by name."""

import pytest
from django_q.models import Schedule
from django_q.signals import post_spawn

from connectors import schedules as connector_schedules
from returns_hub import schedules
from tests import factories

NAMES = {s["name"] for s in (*schedules.SCHEDULES, *connector_schedules.SCHEDULES)}


@pytest.fixture
def polling_connection(db):
    return factories.PlatformConnectionFactory(
        slug="hf-loop", base_url="http://127.0.0.1:8101", poll_minutes=7
    )


@pytest.mark.django_db(transaction=True)
def test_a_cluster_worker_registers_every_schedule_as_it_starts(polling_connection):
    Schedule.objects.all().delete()  # as on a database no start has touched

    # What django-q2 sends in each worker process it starts (`manage.py qcluster`).
    post_spawn.send(sender="django_q", proc_name="Process-test")

    registered = set(Schedule.objects.values_list("name", flat=True))
    assert registered == NAMES | {"poll-hf-loop"}
    assert Schedule.objects.get(name="sweep-inbox").func == "connectors.tasks.sweep_inbox"
    assert Schedule.objects.get(name="poll-hf-loop").minutes == 7


def test_register_all_is_idempotent_and_mends_a_duplicated_name(polling_connection):
    Schedule.objects.create(name="sweep-inbox", func="connectors.tasks.sweep_inbox")
    Schedule.objects.create(name="sweep-inbox", func="connectors.tasks.sweep_inbox")

    first = schedules.register_all()
    second = schedules.register_all()

    assert first == second
    assert set(first) == NAMES | {"poll-hf-loop"}
    for name in first:
        assert Schedule.objects.filter(name=name).count() == 1, name
    assert Schedule.objects.get(name="sweep-inbox").minutes == 1


def test_migrate_registers_the_connectors_schedules_too(db):
    from django.core.management import call_command

    Schedule.objects.filter(name__in=NAMES).delete()
    call_command("migrate", verbosity=0)  # nothing to apply; post_migrate is still sent

    assert set(Schedule.objects.values_list("name", flat=True)) >= NAMES
