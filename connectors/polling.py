"""The safety-net poll: each connection's recent changes into the same inbox.

A polled return is stored as a delivery in the platform's webhook dialect, so
the same parser reads it and the same event keys make a poll and a webhook of
the same change one event. A platform that cannot be reached for longer than
``HUB["PLATFORM_UNREACHABLE_AFTER_MINUTES"]`` (or refuses the credentials) is a
``platform_unreachable`` exception for the data team, which closes itself on
the next successful poll.

A poll covers one window of at most ``MAX_WINDOW`` and runs as short tasks, one
page each: the window and the page cursor are kept in the connection's
``poll_cursor``, and each page task carries that value, so a page run twice (a
retry, a resumed poll) stores nothing twice and only one run moves the poll on.
``last_polled_at`` moves to the window's end only when its last page is in; a
longer gap is caught up window after window.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import simplejson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.tasks import async_task

from connectors import registry
from connectors.base.client import PermanentFailure, TemporaryFailure
from returns_hub.choices import ExceptionKind, ExceptionStatus, InboxSource
from returns_hub.models import ExceptionCase, PlatformConnection
from returns_hub.services import inbox
from returns_hub.services.exceptions import open_exception

logger = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=10)  # re-read the edge of the last window: clocks differ
FIRST_WINDOW = timedelta(days=1)
MAX_WINDOW = timedelta(days=1)  # the most one poll covers, however long the gap
# A poll whose last page is older than this lost its task: the next scheduled run resumes it.
STALE = timedelta(minutes=5)
CURSOR_MAX = PlatformConnection._meta.get_field("poll_cursor").max_length


@dataclass(frozen=True)
class PollState:
    """A poll under way, as kept in ``poll_cursor``."""

    since: str
    until: str
    page: str = ""  # the platform's cursor of the next page; empty: the first
    at: str = ""  # when the last page was stored; empty: resume at the next run
    cut: bool = False  # the window was cut short of the present: more follow at once

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, value: str) -> PollState | None:
        try:
            return cls(**json.loads(value)) if value else None
        except (TypeError, ValueError):
            return None  # an old or damaged value: start a fresh window


def _ready(connection_id: int):
    """(connection, client class, None), or (None, None, why it does not poll)."""
    connection = PlatformConnection.objects.filter(pk=connection_id).first()
    if connection is None or not connection.enabled or not connection.poll_minutes:
        return None, None, "off"
    if not connection.base_url:
        return None, None, "no base URL"
    client_class = registry.get(connection.platform).client
    if client_class is None:
        return None, None, "no client"
    return connection, client_class, None


def _busy(state: PollState, now: datetime) -> bool:
    """A page of this poll was stored lately: the task of its next page is still to run."""
    at = parse_datetime(state.at) if state.at else None
    return at is not None and now - at < STALE


def poll_connection(connection_id: int) -> str:
    """The scheduled poll: start the next window, or resume one whose task was lost."""
    connection, _client, why = _ready(connection_id)
    if why:
        return why
    now = timezone.now()
    token = connection.poll_cursor
    state = PollState.loads(token)
    if state is not None and _busy(state, now):
        return "a poll is under way"
    if state is None:
        start = connection.last_polled_at
        since = start - OVERLAP if start else now - FIRST_WINDOW
        until = min(now, since + MAX_WINDOW)
        state = PollState(since.isoformat(), until.isoformat(), at=now.isoformat(), cut=until < now)
        started = PlatformConnection.objects.filter(pk=connection.pk, poll_cursor=token)
        token = state.dumps()
        if not started.update(poll_cursor=token):
            return "a poll is under way"  # another run started one a moment ago
    return poll_page(connection_id, token)


def poll_page(connection_id: int, token: str) -> str:
    """One page of the poll that ``token`` (the connection's ``poll_cursor``) names."""
    connection, client_class, why = _ready(connection_id)
    if why:
        return why
    state = PollState.loads(token)
    if state is None or connection.poll_cursor != token:
        return "superseded"  # done already, or another run moved the poll on
    now = timezone.now()
    since, until = parse_datetime(state.since), parse_datetime(state.until)
    try:
        page = client_class(connection).page(since, until, state.page)
        following = replace(state, page=page.next, at=now.isoformat()).dumps()
        if page.next and len(following) > CURSOR_MAX:
            raise PermanentFailure(f"the next page's cursor is over {CURSOR_MAX} characters")
    except PermanentFailure as exc:
        _failed(connection, token, now, str(exc), at_once=True)
        return f"refused: {exc}"
    except TemporaryFailure as exc:
        _failed(connection, token, now, str(exc), at_once=False)
        return f"failed: {exc}"
    with transaction.atomic():
        # Only the run that finds the poll where it started moves it on.
        locked = PlatformConnection.objects.select_for_update().filter(pk=connection.pk)
        if locked.values_list("poll_cursor", flat=True).first() != token:
            return "superseded"
        stored = sum(store(connection, topic, payload) for topic, payload in page.changes)
        if page.next:
            locked.update(poll_cursor=following)
            transaction.on_commit(lambda: _queue_page(connection, following))
        else:
            _succeeded(connection, until, now)
            if state.cut:
                transaction.on_commit(lambda: _queue_poll(connection))
    seen = len(page.changes)
    logger.info(
        "polled",
        extra={"connection": connection.slug, "seen": seen, "new": stored, "more": bool(page.next)},
    )
    return f"{seen} seen, {stored} new"


def _queue_page(connection: PlatformConnection, token: str) -> None:
    name = f"poll-{connection.slug}-page"
    async_task("connectors.polling.poll_page", connection.pk, token, group="poll", task_name=name)


def _queue_poll(connection: PlatformConnection) -> None:
    name = f"poll-{connection.slug}-catch-up"
    async_task("connectors.polling.poll_connection", connection.pk, group="poll", task_name=name)


def store(connection: PlatformConnection, topic: str, payload: dict) -> bool:
    """One polled return as an inbox delivery; True when it was new (this exact
    state was not polled before)."""
    body = simplejson.dumps(payload, sort_keys=True, use_decimal=True).encode()
    key = f"poll:{topic}:{hashlib.sha256(body).hexdigest()}"
    found = inbox.store(
        connection, source=InboxSource.POLL, topic=topic, dedup_key=key, headers={}, body=body
    )
    return found is not None


def timed_out(connection_id: int, error: str) -> None:
    """A poll task stopped at the task timeout: seen at once, and resumed at the next run."""
    connection = PlatformConnection.objects.filter(pk=connection_id).first()
    if connection is not None:
        _failed(connection, connection.poll_cursor, timezone.now(), error, at_once=True)


def _cause(connection: PlatformConnection) -> str:
    return f"platform_unreachable:{connection.pk}"


def _failed(connection, token: str, now, error: str, *, at_once: bool) -> None:
    if connection.poll_failing_since is None:
        connection.poll_failing_since = now
    connection.poll_error = error[:2000]
    fields = {
        "poll_failing_since": connection.poll_failing_since,
        "poll_error": connection.poll_error,
        "updated_at": now,
    }
    state = PollState.loads(token)
    if state is not None:
        fields["poll_cursor"] = replace(state, at="").dumps()  # the next run tries this page again
    # By update, and only if the poll is where this run found it: a run another
    # one overtook has nothing to report. (A poll's progress is no settings change.)
    if not PlatformConnection.objects.filter(pk=connection.pk, poll_cursor=token).update(**fields):
        return
    threshold = timedelta(minutes=settings.HUB["PLATFORM_UNREACHABLE_AFTER_MINUTES"])
    if at_once or now - connection.poll_failing_since >= threshold:
        since = timezone.localtime(connection.poll_failing_since).strftime("%d/%m/%Y %H:%M")
        open_exception(
            ExceptionKind.PLATFORM_UNREACHABLE,
            cause_key=_cause(connection),
            message=f"{connection.spec.label} ({connection.slug}) cannot be polled since "
            f"{since}: {error}",
            connection=connection,
        )


def _succeeded(connection: PlatformConnection, until: datetime, now) -> None:
    PlatformConnection.objects.filter(pk=connection.pk).update(
        last_polled_at=until,
        poll_cursor="",
        poll_failing_since=None,
        poll_error="",
        updated_at=now,
    )
    ExceptionCase.objects.filter(cause_key=_cause(connection), status=ExceptionStatus.OPEN).update(
        status=ExceptionStatus.RESOLVED,
        resolved_at=now,
        resolution="Resolved automatically: the platform answered again.",
    )
