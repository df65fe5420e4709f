"""An exception's life, written here and nowhere else: opened once per cause, closed.

Lock order, everywhere: a return's row (``locks.lock_return``) before any of
its exceptions' rows. A case is closed by a conditional update (``WHERE status
= 'open'``), so two people resolving the same case, or a person and the task
whose cause has gone, close it once.

A cause that a person resolved or ignored is never opened again for the same
record: ``open_exception`` refuses a cause key that was closed by a person
(``resolved_by`` set, or ignored). A cause the engine closed because it went
away may open again if it comes back: that is a new case, not a reopened one.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from returns_hub.choices import EXCEPTION_OWNERS, ExceptionKind, ExceptionStatus
from returns_hub.models import ExceptionCase

AUTO_RESOLVED = "Resolved automatically: the cause has gone."


def closed_by_people(cause_keys, *, ignored_only: bool = False) -> set[str]:
    """The causes among ``cause_keys`` a person resolved or ignored: never to open again."""
    by_people = Q(status=ExceptionStatus.IGNORED)
    if not ignored_only:
        by_people |= Q(resolved_by__isnull=False)
    return set(
        ExceptionCase.objects.filter(cause_key__in=list(cause_keys))
        .filter(by_people)
        .values_list("cause_key", flat=True)
    )


def open_exception(
    kind: ExceptionKind,
    *,
    cause_key: str,
    message: str,
    recurrence: bool = True,
    reopen_resolved: bool = False,
    **links,
) -> tuple[ExceptionCase | None, bool]:
    """The open exception for ``cause_key``, created if there is none. (case, created)

    ``recurrence``: the cause was seen again (a new failed poll, say), so count it;
    an evaluation that finds the same cause still there is not a recurrence.
    A cause a person already resolved or ignored gives ``(None, False)``;
    ``reopen_resolved`` (the engine's causes, which a person resolves only by
    removing them) lets a cause that came back after it was fixed open a new case.
    """
    existing = ExceptionCase.objects.filter(cause_key=cause_key, status=ExceptionStatus.OPEN)
    case = existing.first()
    if case is not None:
        if recurrence:
            existing.update(occurrences=F("occurrences") + 1)
        return case, False
    if closed_by_people([cause_key], ignored_only=reopen_resolved):
        return None, False
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


def open_many(kind: ExceptionKind, cases: list[dict]) -> int:
    """New open cases of one kind in one insert, each ``{"cause_key", "message", **links}``;
    how many were asked for. For a caller that already knows none of these causes has a
    case (open or closed by a person), as the deadline checks do, so the one-by-one
    checks of ``open_exception`` are not needed. One that another worker opens at the same
    moment is left to it (the one-open-case-per-cause index), not opened twice."""
    ExceptionCase.objects.bulk_create(
        [ExceptionCase(kind=kind, owner=EXCEPTION_OWNERS[kind], **case) for case in cases],
        ignore_conflicts=True,
    )
    return len(cases)


def close(
    cases: QuerySet[ExceptionCase] | ExceptionCase,
    resolution: str = AUTO_RESOLVED,
    *,
    user=None,
    status: str = ExceptionStatus.RESOLVED,
) -> int:
    """Close the open cases among ``cases``; how many were closed (0: someone was first)."""
    if isinstance(cases, ExceptionCase):
        cases = ExceptionCase.objects.filter(pk=cases.pk)
    return cases.filter(status=ExceptionStatus.OPEN).update(
        status=status,
        resolution=resolution,
        resolved_by=user,
        resolved_at=timezone.now(),
        updated_at=timezone.now(),
    )


def close_cause(cause_key: str, resolution: str = AUTO_RESOLVED) -> int:
    return close(ExceptionCase.objects.filter(cause_key=cause_key), resolution)


def lock(case: ExceptionCase) -> ExceptionCase:
    """The case's row, locked; take the return's lock first when it has one."""
    return ExceptionCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
