"""Opening exceptions: one open exception per cause, however often it recurs."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from returns_hub.choices import EXCEPTION_OWNERS, ExceptionKind, ExceptionStatus
from returns_hub.models import ExceptionCase


def open_exception(
    kind: ExceptionKind, *, cause_key: str, message: str, recurrence: bool = True, **links
) -> tuple[ExceptionCase, bool]:
    """The open exception for ``cause_key``, created if there is none. (case, created)

    ``recurrence``: the cause was seen again (a new failed poll, say), so count it;
    an evaluation that finds the same cause still there is not a recurrence.
    """
    existing = ExceptionCase.objects.filter(cause_key=cause_key, status=ExceptionStatus.OPEN)
    case = existing.first()
    if case is not None:
        if recurrence:
            existing.update(occurrences=F("occurrences") + 1)
        return case, False
    try:
        with transaction.atomic():
            case = ExceptionCase.objects.create(
                kind=kind,
                owner=EXCEPTION_OWNERS[kind],
                cause_key=cause_key,
                message=message,
                **links,
            )
            return case, True
    except IntegrityError:
        # Another worker opened it between our read and our insert.
        return existing.get(), False
