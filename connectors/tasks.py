"""Tasks that turn inbox deliveries into the hub's events. Each is safe to run twice."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from connectors import registry
from connectors.base.errors import ParseError
from returns_hub.choices import ExceptionKind, InboxStatus
from returns_hub.models import InboxDelivery
from returns_hub.services import exceptions, ingest

logger = logging.getLogger(__name__)

RETRYABLE = (InboxStatus.RECEIVED, InboxStatus.FAILED)


def enqueue_delivery(delivery_id: int) -> None:
    async_task(
        "connectors.tasks.process_delivery",
        delivery_id,
        task_name=f"process-delivery-{delivery_id}",
        group="inbox",
    )


def process_delivery(delivery_id: int) -> str:
    """Parse one delivery and apply its events. Returns the delivery's new status."""
    with transaction.atomic():
        delivery = (
            InboxDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connection")
            .filter(pk=delivery_id, status__in=RETRYABLE)
            .first()
        )
        if delivery is None:
            return "skipped"  # done already, or another worker holds it
        delivery.attempts += 1
        connector = registry.get(delivery.connection.platform)
        if not connector.handles(delivery.topic):
            return _finish(delivery, InboxStatus.IGNORED, f"topic {delivery.topic!r} is not used")
        try:
            events = connector.parse(delivery.topic, json.loads(bytes(delivery.body)))
        except ParseError as exc:
            exceptions.open_exception(
                ExceptionKind.INVALID_PAYLOAD,
                cause_key=f"invalid_payload:delivery:{delivery.pk}",
                message=f"{connector.spec.label} {delivery.topic or 'delivery'}: {exc}",
                connection=delivery.connection,
                delivery=delivery,
            )
            return _finish(delivery, InboxStatus.INVALID, str(exc))
        try:
            with transaction.atomic():
                ingest.apply_all(delivery.connection, list(events), delivery=delivery)
        except Exception as exc:
            logger.exception("delivery failed", extra={"delivery": delivery.pk})
            dead = delivery.attempts >= settings.HUB["INBOX_MAX_ATTEMPTS"]
            status = InboxStatus.DEAD if dead else InboxStatus.FAILED
            return _finish(delivery, status, f"{type(exc).__name__}: {exc}", processed=False)
        return _finish(delivery, InboxStatus.PROCESSED, "")


def _finish(delivery: InboxDelivery, status: str, error: str, *, processed: bool = True) -> str:
    delivery.status = status
    delivery.error = error
    if processed:
        delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error", "attempts", "processed_at"])
    return status


def sweep_inbox() -> int:
    """Re-queue deliveries whose task was lost or failed. Scheduled every minute."""
    cutoff = timezone.now() - timedelta(seconds=settings.HUB["INBOX_SWEEP_AFTER_SECONDS"])
    ids = list(
        InboxDelivery.objects.filter(
            status__in=RETRYABLE,
            received_at__lt=cutoff,
            attempts__lt=settings.HUB["INBOX_MAX_ATTEMPTS"],
        )
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    return len(ids)
