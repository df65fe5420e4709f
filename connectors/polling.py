"""The safety-net poll: each connection's recent changes into the same inbox.

A polled return is stored as a delivery in the platform's webhook dialect, so
the same parser reads it and the same event keys make a poll and a webhook of
the same change one event. A platform that cannot be reached for longer than
``HUB["PLATFORM_UNREACHABLE_AFTER_MINUTES"]`` (or refuses the credentials) is a
``platform_unreachable`` exception for the data team, which closes itself on
the next successful poll.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import simplejson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors import registry
from connectors.base.client import PermanentFailure, TemporaryFailure
from connectors.tasks import enqueue_delivery
from returns_hub.choices import ExceptionKind, ExceptionStatus, InboxSource
from returns_hub.models import ExceptionCase, InboxDelivery, PlatformConnection
from returns_hub.services.exceptions import open_exception

logger = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=10)  # re-read the edge of the last window: clocks differ
FIRST_WINDOW = timedelta(days=1)


def poll_connection(connection_id: int) -> str:
    connection = PlatformConnection.objects.filter(pk=connection_id).first()
    if connection is None or not connection.enabled or not connection.poll_minutes:
        return "off"
    if not connection.base_url:
        return "no base URL"
    client_class = registry.get(connection.platform).client
    if client_class is None:
        return "no client"
    now = timezone.now()
    since = (connection.last_polled_at or now - FIRST_WINDOW) - OVERLAP
    stored = seen = 0
    try:
        for topic, payload in client_class(connection).changes(since, now):
            seen += 1
            stored += store(connection, topic, payload)
    except PermanentFailure as exc:
        _failed(connection, now, str(exc), at_once=True)
        return f"refused: {exc}"
    except TemporaryFailure as exc:
        _failed(connection, now, str(exc), at_once=False)
        return f"failed: {exc}"
    _succeeded(connection, now)
    logger.info("polled", extra={"connection": connection.slug, "seen": seen, "new": stored})
    return f"{seen} seen, {stored} new"


def store(connection: PlatformConnection, topic: str, payload: dict) -> bool:
    """One polled return as an inbox delivery; True when it was new."""
    body = simplejson.dumps(payload, sort_keys=True, use_decimal=True).encode()
    key = f"poll:{topic}:{hashlib.sha256(body).hexdigest()}"
    try:
        with transaction.atomic():
            delivery = InboxDelivery.objects.create(
                connection=connection, source=InboxSource.POLL, topic=topic[:100],
                dedup_key=key, headers={}, body=body,
            )  # fmt: skip
            transaction.on_commit(lambda: enqueue_delivery(delivery.pk))
    except IntegrityError:
        return False  # this exact state was polled before
    return True


def _cause(connection: PlatformConnection) -> str:
    return f"platform_unreachable:{connection.pk}"


def _failed(connection: PlatformConnection, now, error: str, *, at_once: bool) -> None:
    if connection.poll_failing_since is None:
        connection.poll_failing_since = now
    connection.poll_error = error[:2000]
    connection.save(update_fields=["poll_failing_since", "poll_error", "updated_at"])
    threshold = timedelta(minutes=settings.HUB["PLATFORM_UNREACHABLE_AFTER_MINUTES"])
    if at_once or now - connection.poll_failing_since >= threshold:
        since = timezone.localtime(connection.poll_failing_since).strftime("%d/%m/%Y %H:%M")
        open_exception(
            ExceptionKind.PLATFORM_UNREACHABLE, cause_key=_cause(connection),
            message=f"{connection.spec.label} ({connection.slug}) cannot be polled since {since}: "
            f"{error}", connection=connection,
        )  # fmt: skip


def _succeeded(connection: PlatformConnection, now) -> None:
    connection.last_polled_at = now
    connection.poll_failing_since = None
    connection.poll_error = ""
    connection.save(update_fields=["last_polled_at", "poll_failing_since", "poll_error",
                                   "updated_at"])  # fmt: skip
    ExceptionCase.objects.filter(cause_key=_cause(connection), status=ExceptionStatus.OPEN).update(
        status=ExceptionStatus.RESOLVED, resolved_at=now,
        resolution="Resolved automatically: the platform answered again.",
    )  # fmt: skip
