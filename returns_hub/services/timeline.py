"""The return's timeline: every step, with who or what caused it.

Inside ``batch()`` entries are gathered and written in one insert when the
batch ends (applying a delivery writes a dozen at once); outside, each is
written as it is recorded.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from returns_hub.choices import Cause
from returns_hub.models import Return, TimelineEntry

_local = threading.local()


@dataclass(frozen=True)
class By:
    """Who or what caused a change: a platform event, a person, a task, Khaos."""

    cause: Cause
    actor: object = None
    delivery: object = None


TASK = By(Cause.TASK)
KHAOS = By(Cause.KHAOS)


@contextmanager
def batch():
    if getattr(_local, "buffer", None) is not None:
        yield  # already inside a batch: the outer one writes
        return
    _local.buffer = []
    try:
        yield
        if _local.buffer:
            TimelineEntry.objects.bulk_create(_local.buffer)
    finally:
        _local.buffer = None


def record(
    ret: Return,
    kind: str,
    message: str,
    *,
    by: By | None = None,
    cause: Cause | None = None,
    actor=None,
    unit=None,
    delivery=None,
    event_key: str | None = None,
    from_state: str = "",
    to_state: str = "",
    details: dict | None = None,
) -> TimelineEntry:
    if by is not None:
        cause, actor, delivery = by.cause, by.actor or actor, by.delivery or delivery
    entry = TimelineEntry(
        return_ref=ret,
        unit=unit,
        kind=kind,
        message=message,
        cause=cause,
        actor=actor,
        delivery=delivery,
        event_key=event_key,
        from_state=from_state,
        to_state=to_state,
        details=details or {},
    )
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        entry.save()
    else:
        buffer.append(entry)
    return entry


def seen(ret: Return, event_key: str) -> bool:
    buffer = getattr(_local, "buffer", None) or []
    if any(e.return_ref_id == ret.pk and e.event_key == event_key for e in buffer):
        return True
    return TimelineEntry.objects.filter(return_ref=ret, event_key=event_key).exists()


def event_keys(ret: Return) -> set[str]:
    """Every platform event already applied to the return."""
    return set(
        TimelineEntry.objects.filter(return_ref=ret, event_key__isnull=False).values_list(
            "event_key", flat=True
        )
    )
