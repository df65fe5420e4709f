"""Tasks that turn inbox deliveries into the hub's events. Each is safe to run twice."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DataError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.models import Failure, Success

from connectors import polling, registry
from connectors.base.connector import ParseContext
from connectors.base.errors import ParseError
from returns_hub.choices import ExceptionKind, InboxStatus
from returns_hub.models import InboxDelivery
from returns_hub.services import exceptions, inbox, ingest

logger = logging.getLogger(__name__)

RETRYABLE = (InboxStatus.RECEIVED, InboxStatus.FAILED)


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
            payload = json.loads(bytes(delivery.body), parse_float=Decimal)
            context = ParseContext.of(delivery.connection)
            events = list(connector.parse(delivery.topic, payload, context))
        except ParseError as exc:
            return _invalid(delivery, connector, str(exc))
        except Exception as exc:
            logger.exception("delivery unreadable", extra={"delivery": delivery.pk})
            return _invalid(delivery, connector, f"unreadable: {type(exc).__name__}: {exc}")
        try:
            with transaction.atomic():
                ingest.apply_all(delivery.connection, events, delivery=delivery)
        except (DataError, ValueError) as exc:
            # A value the hub cannot hold or use (too long, out of range, NUL): it
            # would fail the same way on every attempt, so it is the payload's fault.
            logger.warning("delivery not storable", extra={"delivery": delivery.pk})
            return _invalid(delivery, connector, f"a value cannot be used: {exc}".strip())
        except Exception as exc:
            logger.exception("delivery failed", extra={"delivery": delivery.pk})
            dead = delivery.attempts >= settings.HUB["INBOX_MAX_ATTEMPTS"]
            status = InboxStatus.DEAD if dead else InboxStatus.FAILED
            return _finish(delivery, status, f"{type(exc).__name__}: {exc}", processed=False)
        return _finish(delivery, InboxStatus.PROCESSED, "")


def _invalid(delivery: InboxDelivery, connector, why: str) -> str:
    """The payload cannot be used: ``invalid_payload`` for the data team, with why."""
    why = _safe_text(why)
    exceptions.open_exception(
        ExceptionKind.INVALID_PAYLOAD,
        cause_key=f"invalid_payload:delivery:{delivery.pk}",
        message=f"{connector.spec.label} {_safe_text(delivery.topic) or 'delivery'}: {why}",
        connection=delivery.connection,
        delivery=delivery,
    )
    return _finish(delivery, InboxStatus.INVALID, why)


def _safe_text(text: str, limit: int = 2000) -> str:
    """Text PostgreSQL can hold: NULs and lone surrogates shown escaped; cut to ``limit``."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _finish(delivery: InboxDelivery, status: str, error: str, *, processed: bool = True) -> str:
    delivery.status = status
    delivery.error = _safe_text(error)
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
        inbox.enqueue(delivery_id)
    return len(ids)


# How django-q2 records a task it stopped at Q_CLUSTER["timeout"]: SIGALRM raises
# django_q.exceptions.TimeoutException in the worker, and the task is saved as a
# Failure whose result starts with this text (django_q.timeout.TimeoutHandler).
TIMED_OUT = "Task exceeded maximum timeout value"
CHECK = "connectors.tasks.check_timeouts"
SETTLE = timedelta(minutes=1)  # a Failure row is saved just after its task stops
FIRST_LOOK = timedelta(hours=1)
POLLS = ("connectors.polling.poll_connection", "connectors.polling.poll_page")


def check_timeouts() -> str:
    """Make every task the cluster stopped at its timeout seen. Scheduled.

    Each is logged as an error; a poll's opens ``platform_unreachable``; a
    delivery's counts as a failed attempt (else the sweep would queue it for
    ever). Answers the time checked up to, which django-q keeps as this task's
    result: the next check starts there, so each timeout is reported once.
    """
    until = timezone.now() - SETTLE
    since = _checked_until() or until - FIRST_LOOK
    found = 0
    failures = Failure.objects.filter(stopped__gt=since, stopped__lte=until).order_by("stopped")
    for task in failures.iterator(chunk_size=100):
        result = str(task.result or "")
        if not result.startswith(TIMED_OUT):
            continue
        found += 1
        error = result.split(" : ", 1)[0]
        logger.error(
            "task stopped at the timeout",
            extra={"task": task.name, "func": task.func, "task_args": repr(task.args)[:200]},
        )
        args = task.args if isinstance(task.args, tuple | list) else (task.args,)
        if task.func in POLLS and args:
            polling.timed_out(args[0], f"the poll task was stopped: {error}")
        elif task.func == settings.HUB["DELIVERY_TASK"] and args:
            _delivery_timed_out(args[0], error)
    logger.info("timeouts checked", extra={"since": since.isoformat(), "timed_out": found})
    return until.isoformat()


def _checked_until():
    last = Success.objects.filter(func=CHECK).order_by("-stopped").first()
    return parse_datetime(str(last.result or "")) if last is not None else None


def _delivery_timed_out(delivery_id: int, error: str) -> None:
    with transaction.atomic():
        delivery = (
            InboxDelivery.objects.select_for_update()
            .filter(pk=delivery_id, status__in=RETRYABLE)
            .first()
        )
        if delivery is None:
            return  # processed after all, by a later run
        delivery.attempts += 1
        dead = delivery.attempts >= settings.HUB["INBOX_MAX_ATTEMPTS"]
        status = InboxStatus.DEAD if dead else InboxStatus.FAILED
        _finish(delivery, status, f"stopped at the task timeout: {error}", processed=False)
