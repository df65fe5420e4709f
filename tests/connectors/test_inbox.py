"""One writer of the inbox and one enqueue: webhooks and polls store through
``returns_hub.services.inbox``, which queues processing after commit, once."""

import pytest

from connectors import polling
from returns_hub.choices import InboxSource, InboxStatus
from returns_hub.models import InboxDelivery
from returns_hub.services import inbox
from tests.conftest import fixture_bytes, sql_log

pytestmark = pytest.mark.django_db
CREATED = "loop/01_return_created_5001.json"


@pytest.fixture
def queued(monkeypatch):
    """The tasks the inbox queues, instead of running them."""
    calls = []
    monkeypatch.setattr(inbox, "async_task", lambda *a, **k: calls.append((a, k)))
    return calls


def _store(connection, key="k1", body=b'{"id": 1}'):
    fields = {"topic": "return.updated", "dedup_key": key, "headers": {"X-Test": "1"}}
    return inbox.store(connection, source=InboxSource.POLL, body=body, **fields)


def test_store_is_one_insert_and_queues_after_commit_once(
    loop_connection, queued, django_capture_on_commit_callbacks
):
    with (
        sql_log() as queries,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        delivery_id = _store(loop_connection)
    assert len(queries) == 1  # one round trip, whether new or not
    assert "ON CONFLICT" in queries[0] and "RETURNING" in queries[0]
    assert not queued  # nothing is queued before the row is committed
    for callback in callbacks:
        callback()
    assert [args for args, _ in queued] == [("connectors.tasks.process_delivery", delivery_id)]
    delivery = InboxDelivery.objects.get(pk=delivery_id)
    assert (delivery.source, delivery.status) == ("poll", "received")
    assert delivery.headers == {"X-Test": "1"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _store(loop_connection) is None  # the same key again: a duplicate
    assert not callbacks
    assert len(queued) == 1
    assert InboxDelivery.objects.count() == 1


def test_the_processing_task_is_named_by_the_setting(loop_connection, queued, settings):
    settings.HUB = {**settings.HUB, "DELIVERY_TASK": "elsewhere.tasks.process"}
    inbox.enqueue(41)
    ((args, kwargs),) = queued
    assert args == ("elsewhere.tasks.process", 41)
    assert kwargs["group"] == "inbox"


def test_requeue_resets_a_failed_delivery_and_queues_it_after_commit(
    loop_connection, queued, django_capture_on_commit_callbacks
):
    delivery = InboxDelivery.objects.get(pk=_store(loop_connection))
    InboxDelivery.objects.filter(pk=delivery.pk).update(status=InboxStatus.DEAD, attempts=5)
    delivery.refresh_from_db()
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert inbox.requeue(delivery) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("received", 0)
    assert [args for args, _ in queued] == [("connectors.tasks.process_delivery", delivery.pk)]

    InboxDelivery.objects.filter(pk=delivery.pk).update(status=InboxStatus.PROCESSED)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert inbox.requeue(delivery) is False  # a processed delivery stays processed
    assert not queued
    delivery.refresh_from_db()
    assert delivery.status == "processed"


def test_webhooks_and_polls_both_write_through_the_inbox(
    loop_connection, post_webhook, queued, monkeypatch, django_capture_on_commit_callbacks
):
    sources = []
    real = inbox.store

    def spy(connection, **fields):
        sources.append(fields["source"])
        return real(connection, **fields)

    monkeypatch.setattr(inbox, "store", spy)
    with django_capture_on_commit_callbacks(execute=True):
        with sql_log() as queries:
            assert post_webhook(loop_connection, fixture_bytes(CREATED)).status_code == 202
        assert post_webhook(loop_connection, fixture_bytes(CREATED)).status_code == 200
        assert polling.store(loop_connection, "return.updated", {"id": "5001"}) is True
        assert polling.store(loop_connection, "return.updated", {"id": "5001"}) is False
    assert sources == ["webhook", "webhook", "poll", "poll"]
    inbox_sql = [q for q in queries if "returns_hub_inboxdelivery" in q]
    assert len(inbox_sql) == 1 and inbox_sql[0].lstrip().startswith("INSERT")
    ids = sorted(InboxDelivery.objects.values_list("id", flat=True))
    assert sorted(args[1] for args, _ in queued) == ids  # each new delivery queued once


def test_the_sweep_queues_through_the_inbox(loop_connection, queued):
    from datetime import timedelta

    from django.utils import timezone

    from connectors import tasks

    delivery_id = _store(loop_connection)
    queued.clear()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    InboxDelivery.objects.filter(pk=delivery_id).update(received_at=an_hour_ago)
    assert tasks.sweep_inbox() == 1
    assert [args for args, _ in queued] == [("connectors.tasks.process_delivery", delivery_id)]


def test_inbox_lists_carry_no_body_and_never_read_it(loop_connection, api_client_for):
    big = b'{"pad": "' + b"x" * 50_000 + b'"}'
    delivery_id = _store(loop_connection, body=big)
    _store(loop_connection, key="k2")
    client = api_client_for("data")

    with sql_log() as queries:
        listed = client.get("/api/v1/inbox/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert len(rows) == 2
    assert all("body" not in row and "headers" not in row for row in rows)
    assert {row["connection"] for row in rows} == {loop_connection.slug}
    selects = [q for q in queries if 'FROM "returns_hub_inboxdelivery"' in q]
    assert selects
    assert not any('"returns_hub_inboxdelivery"."body"' in sql for sql in selects)
    assert not any('"returns_hub_inboxdelivery"."headers"' in sql for sql in selects)

    detail = client.get(f"/api/v1/inbox/{delivery_id}/").json()
    assert detail["body"] == big.decode()
    assert detail["headers"] == {"X-Test": "1"}
