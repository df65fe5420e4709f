from __future__ import annotations

from returns_hub.choices import Cause
from returns_hub.models import Return, TimelineEntry


def record(
    ret: Return,
    kind: str,
    message: str,
    *,
    cause: Cause,
    actor=None,
    unit=None,
    delivery=None,
    event_key: str | None = None,
    from_state: str = "",
    to_state: str = "",
    details: dict | None = None,
) -> TimelineEntry:
    return TimelineEntry.objects.create(
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


def seen(ret: Return, event_key: str) -> bool:
    return TimelineEntry.objects.filter(return_ref=ret, event_key=event_key).exists()
