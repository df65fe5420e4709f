"""The inbox: the one writer of deliveries and the one way their processing is queued.

Webhooks and polls both store through ``store``; the sweep, a retry and the
admin queue through ``enqueue``. The processing task is named by the setting
``HUB["DELIVERY_TASK"]``, so the domain never names a connector package.
"""

from __future__ import annotations

import json
from contextlib import nullcontext

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django_q.conf import Conf
from django_q.tasks import async_task

from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, PlatformConnection

# One round trip on the webhook's hot path: a new delivery gets its id back, a
# duplicate gets no row (and no error that would spoil an outer transaction).
INSERT = """
    INSERT INTO returns_hub_inboxdelivery
        (connection_id, source, topic, dedup_key, headers, body, status, error, attempts,
         received_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, '', 0, now())
    ON CONFLICT (connection_id, dedup_key) DO NOTHING
    RETURNING id
"""


def store(
    connection: PlatformConnection,
    *,
    source: str,
    topic: str,
    dedup_key: str,
    headers: dict,
    body: bytes,
) -> int | None:
    """Keep one delivery whole; its id, or None when its key was stored before.

    Processing is queued once the row is committed (at once under autocommit). On the
    ORM broker the queue is a table of this database: the task is queued in the same
    transaction, so a webhook costs one commit instead of two and neither row is kept
    without the other (`benchmarks.ingest`: a third more webhooks a second).
    """
    params = [
        connection.pk,
        source,
        topic[:100],
        dedup_key[:255],
        json.dumps(headers),
        body,
        InboxStatus.RECEIVED,
    ]
    together = _queue_in_this_database()
    with transaction.atomic(savepoint=False) if together else nullcontext():
        with db_connection.cursor() as cursor:
            cursor.execute(INSERT, params)
            row = cursor.fetchone()
        if row is None:
            return None
        delivery_id = row[0]
        if together:
            enqueue(delivery_id)
        else:
            transaction.on_commit(lambda: enqueue(delivery_id))
    return delivery_id


def _queue_in_this_database() -> bool:
    """The ORM broker on this database, its tasks run by a cluster (not in-process, as
    the tests' sync mode runs them, which must wait for the commit)."""
    return db_connection.alias == Conf.ORM and not Conf.SYNC


def enqueue(delivery_id: int) -> None:
    """Queue one delivery's processing; the task skips a delivery already done."""
    async_task(
        settings.HUB["DELIVERY_TASK"],
        delivery_id,
        task_name=f"process-delivery-{delivery_id}",
        group="inbox",
    )


def requeue(delivery: InboxDelivery) -> bool:
    """Process a delivery that failed (or was invalid, dead or ignored) again, from
    a clean count of attempts; False for one already processed."""
    updated = (
        InboxDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=InboxStatus.PROCESSED)
        .update(status=InboxStatus.RECEIVED, attempts=0)
    )
    if not updated:
        return False
    delivery.status, delivery.attempts = InboxStatus.RECEIVED, 0
    delivery_id = delivery.pk
    transaction.on_commit(lambda: enqueue(delivery_id))
    return True
