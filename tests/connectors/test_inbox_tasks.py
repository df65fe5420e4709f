"""Inbox tasks: safe to run twice, claimed with row locks, swept up when lost."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from connectors import tasks
from connectors.loop.parser import parse_return
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, Return, TimelineEntry
from returns_hub.services import ingest
from tests.conftest import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db


def _delivery(connection, body, status=InboxStatus.RECEIVED, topic="return.created", key="k"):
    return InboxDelivery.objects.create(
        connection=connection,
        source="webhook",
        topic=topic,
        dedup_key=key,
        body=body,
        status=status,
    )


def test_processing_twice_changes_nothing_the_second_time(loop_connection):
    delivery = _delivery(loop_connection, fixture_bytes("loop/01_return_created_5001.json"))

    assert tasks.process_delivery(delivery.pk) == InboxStatus.PROCESSED
    snapshot = (list(Return.objects.values()), list(TimelineEntry.objects.values()))
    assert tasks.process_delivery(delivery.pk) == "skipped"

    assert (list(Return.objects.values()), list(TimelineEntry.objects.values())) == snapshot
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_the_same_event_by_another_delivery_is_applied_once(loop_connection):
    body = fixture_bytes("loop/01_return_created_5001.json")
    first = _delivery(loop_connection, body, key="webhook")
    second = _delivery(loop_connection, body, key="poll")  # e.g. the poll saw it too

    tasks.process_delivery(first.pk)
    entries = list(TimelineEntry.objects.values())
    tasks.process_delivery(second.pk)

    ret = Return.objects.get()
    assert ret.units.count() == 2
    assert list(TimelineEntry.objects.values()) == entries


def test_a_later_event_adds_to_the_timeline(loop_connection):
    for name in ("01_return_created_5001.json", "02_return_updated_5001_one_unit_graded.json"):
        for event in parse_return(fixture_json(f"loop/{name}")):
            ret = ingest.apply(loop_connection, event)
    assert ret.units.count() == 2
    events = ret.timeline.filter(event_key__isnull=False).values_list("kind", flat=True)
    assert list(events) == [
        "platform_return_opened",
        "platform_label_updated",  # the label as created
        "platform_label_updated",  # then delivered
        "platform_units_in_transit",
        "platform_units_received",
        "platform_unit_graded",
    ]


def test_a_failing_apply_is_kept_for_retry_then_given_up(loop_connection, monkeypatch, settings):
    settings.HUB = {**settings.HUB, "INBOX_MAX_ATTEMPTS": 2}
    delivery = _delivery(loop_connection, fixture_bytes("loop/01_return_created_5001.json"))

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(ingest, "apply_all", broken)
    assert tasks.process_delivery(delivery.pk) == InboxStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.error == "RuntimeError: database hiccup"
    assert not Return.objects.exists()  # nothing half-applied
    assert tasks.process_delivery(delivery.pk) == InboxStatus.DEAD
    assert tasks.process_delivery(delivery.pk) == "skipped"


def test_sweep_requeues_old_unprocessed_deliveries_only(loop_connection, monkeypatch):
    queued = []
    monkeypatch.setattr("returns_hub.services.inbox.enqueue", queued.append)
    old = _delivery(loop_connection, b"{}", key="old")
    failed = _delivery(loop_connection, b"{}", key="failed", status=InboxStatus.FAILED)
    _delivery(loop_connection, b"{}", key="new")
    _delivery(loop_connection, b"{}", key="done", status=InboxStatus.PROCESSED)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    InboxDelivery.objects.filter(pk__in=[old.pk, failed.pk]).update(received_at=an_hour_ago)
    InboxDelivery.objects.filter(dedup_key="done").update(received_at=an_hour_ago)

    assert tasks.sweep_inbox() == 2
    assert queued == [old.pk, failed.pk]


def test_schedules_are_registered_by_name_once():
    from connectors import schedules

    schedules.register()
    schedules.register()
    assert Schedule.objects.filter(name="sweep-inbox").count() == 1
    assert Schedule.objects.get(name="sweep-inbox").func == "connectors.tasks.sweep_inbox"
