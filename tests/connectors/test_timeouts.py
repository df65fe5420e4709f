"""A task django-q2 stops at its timeout is seen: logged, and for a poll a
``platform_unreachable`` case; a delivery's counts as a failed attempt."""

import logging
import time
from datetime import timedelta
from multiprocessing import Value
from queue import Queue
from uuid import uuid4

import httpx
import pytest
import respx
from django.utils import timezone
from django_q.models import Failure, Schedule
from django_q.monitor import monitor
from django_q.tasks import async_task
from django_q.worker import worker

from connectors import polling
from connectors.polling import PollState
from returns_hub.choices import InboxSource
from returns_hub.models import ExceptionCase, InboxDelivery
from returns_hub.services import inbox
from tests import factories

pytestmark = pytest.mark.django_db
LIST = "https://loop.example.com/warehouse/return/list"


def run_as_the_cluster_does(func: str, *args, timeout: int = 1) -> Failure:
    """One task through django-q2's own worker (not sync: a failure is kept, not
    raised) and its monitor, which saves the result; the task's Failure row."""
    task = {"id": uuid4().hex, "name": f"test-{uuid4().hex[:8]}", "func": func, "args": args}
    task.update(kwargs={}, started=timezone.now(), timeout=timeout)
    tasks, results = Queue(), Queue()
    tasks.put(task)
    tasks.put("STOP")
    worker(tasks, results, Value("f", -1))
    results.put("STOP")
    monitor(results)
    # The check runs a few minutes later, once the row has surely been saved.
    failure = Failure.objects.get(id=task["id"])
    Failure.objects.filter(pk=failure.pk).update(stopped=timezone.now() - timedelta(minutes=2))
    return failure


def slow(request):
    time.sleep(5)  # longer than the task timeout: the worker stops it


@respx.mock
def test_a_poll_stopped_at_the_timeout_opens_platform_unreachable_once(caplog):
    conn = factories.PlatformConnectionFactory(
        platform="loop", slug="slow-loop", base_url="https://loop.example.com", api_key="k"
    )
    route = respx.get(url__startswith=LIST).mock(side_effect=slow)
    failure = run_as_the_cluster_does("connectors.polling.poll_connection", conn.pk)
    assert str(failure.result).startswith("Task exceeded maximum timeout value")
    assert not ExceptionCase.objects.exists()  # nothing shows it yet

    with caplog.at_level(logging.ERROR, logger="connectors.tasks"):
        async_task("connectors.tasks.check_timeouts")
    case = ExceptionCase.objects.get()
    assert (case.kind, case.status, case.connection) == ("platform_unreachable", "open", conn)
    assert "timeout" in case.message
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(getattr(r, "func", "") == "connectors.polling.poll_connection" for r in errors)
    conn.refresh_from_db()
    assert PollState.loads(conn.poll_cursor).at == ""  # the next run resumes it at once

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="connectors.tasks"):
        async_task("connectors.tasks.check_timeouts")  # the next check: reported once
    assert not caplog.records
    case.refresh_from_db()
    assert case.occurrences == 1

    route.mock(side_effect=None, return_value=httpx.Response(200, json={"returns": []}))
    assert polling.poll_connection(conn.pk) == "0 seen, 0 new"
    case.refresh_from_db()
    assert case.status == "resolved"


def test_a_delivery_stopped_at_the_timeout_is_a_failed_attempt(loop_connection, monkeypatch):
    monkeypatch.setattr(inbox, "async_task", lambda *a, **k: None)
    fields = {"topic": "return.created", "dedup_key": "slow", "headers": {}, "body": b"{}"}
    delivery_id = inbox.store(loop_connection, source=InboxSource.WEBHOOK, **fields)
    monkeypatch.setattr("connectors.base.connector.Connector.parse", lambda *a: time.sleep(5))
    run_as_the_cluster_does("connectors.tasks.process_delivery", delivery_id)
    delivery = InboxDelivery.objects.get(pk=delivery_id)
    # The timeout rolled its work back: as it stands, the sweep would queue it for ever.
    assert (delivery.status, delivery.attempts) == ("received", 0)

    async_task("connectors.tasks.check_timeouts")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error.startswith("stopped at the task timeout")
    async_task("connectors.tasks.check_timeouts")
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_other_failures_are_not_timeouts(caplog):
    failure = run_as_the_cluster_does("connectors.tasks.process_delivery", "not an id")
    assert "expected a number" in str(failure.result)
    with caplog.at_level(logging.ERROR, logger="connectors.tasks"):
        async_task("connectors.tasks.check_timeouts")
    assert not [r for r in caplog.records if r.name == "connectors.tasks"]


def test_the_check_is_scheduled_by_name():
    from connectors import schedules

    schedules.register()
    schedules.register()
    schedule = Schedule.objects.get(name="check-task-timeouts")
    assert schedule.func == "connectors.tasks.check_timeouts"
