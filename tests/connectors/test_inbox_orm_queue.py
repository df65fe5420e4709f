"""On the ORM broker a delivery and its queued task are written in one transaction: one
commit on the webhook's hot path (`benchmarks.ingest`), and neither row without the other."""

import pytest
from django.db import transaction
from django_q.conf import Conf
from django_q.models import OrmQ

from returns_hub.choices import InboxSource
from returns_hub.models import InboxDelivery
from returns_hub.services import inbox

pytestmark = pytest.mark.django_db(transaction=True)  # commits are what is tested


@pytest.fixture
def cluster_queue(monkeypatch):
    """Tasks queued in the database for a cluster, not run in-process (tests' sync mode)."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


def _store(connection, key="k1"):
    fields = {"topic": "return.updated", "dedup_key": key, "headers": {}}
    return inbox.store(connection, source=InboxSource.WEBHOOK, body=b'{"id": 1}', **fields)


def test_the_delivery_and_its_task_are_committed_together(loop_connection, cluster_queue):
    delivery_id = _store(loop_connection)

    assert InboxDelivery.objects.filter(pk=delivery_id).exists()
    assert OrmQ.objects.count() == 1
    assert OrmQ.objects.get().task["args"] == (delivery_id,)
    assert _store(loop_connection) is None  # a duplicate: no row, no task
    assert OrmQ.objects.count() == 1


def test_the_task_is_written_in_the_stores_transaction(loop_connection, cluster_queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        _store(loop_connection)
        assert OrmQ.objects.count() == 1  # queued before the commit, in the same transaction
        raise RuntimeError("the caller's transaction fails")

    assert not InboxDelivery.objects.exists()
    assert not OrmQ.objects.exists()


def test_on_another_broker_the_task_is_queued_after_commit(
    loop_connection, cluster_queue, monkeypatch
):
    monkeypatch.setattr(Conf, "ORM", None)  # Redis: not part of the database's transaction
    queued = []
    monkeypatch.setattr(inbox, "async_task", lambda *a, **k: queued.append(a))

    with transaction.atomic():
        delivery_id = _store(loop_connection)
        assert not queued  # not before the row is committed
    assert queued == [(inbox.settings.HUB["DELIVERY_TASK"], delivery_id)]
