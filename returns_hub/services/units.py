"""A unit's moves (in transit, arrived, graded, not returned, cancelled), written here only.

Platform events (through ingest), the API and the warehouse screen all move
units through these functions, each with its timeline line. The caller holds
the return's row lock (``locks.lock_return``).

A unit's grade decides its Khaos return reason and site, so grading a unit
whose return has already posted with ``ProcessReturn: true`` raises
``LateGrade`` (the API answers 409): Khaos was told the grade it had. A return
posted unprocessed (Reveni: logged in Khaos before inspection, for staff to
approve) takes its grades later as a record; its document does not change.
"""

from __future__ import annotations

from django.utils import timezone

from returns_hub.choices import PostingKind, PostingState, UnitState
from returns_hub.models import Return, ReturnUnit
from returns_hub.services import timeline
from returns_hub.services.errors import ActionError
from returns_hub.services.timeline import By
from returns_hub.state_machine import UNIT_TRANSITIONS, allowed, move_unit

U = UnitState


class UnitError(ActionError):
    """The move does not apply to the unit as it stands; the message says why."""


class LateGrade(UnitError):
    """The return has posted: Khaos already has the grade it was told."""


def _label(unit: ReturnUnit) -> str:
    return f"Unit {unit.external_id} ({unit.platform_sku or unit.barcode})"


def _move(unit: ReturnUnit, target: str, by: By, message: str = "") -> None:
    move_unit(unit, target, cause=by.cause, actor=by.actor, delivery=by.delivery, message=message)


def advance(ret: Return, units: list[ReturnUnit], target: str, by: By, *, stamp: str = "") -> int:
    """Move units forward to ``target`` in one update; units already past it are left alone."""
    movable = [u for u in units if allowed(UNIT_TRANSITIONS, u.state, target)]
    if not movable:
        return 0
    changes = {"state": target, **({stamp: timezone.now()} if stamp else {})}
    ReturnUnit.objects.filter(pk__in=[u.pk for u in movable]).update(**changes)
    for unit in movable:
        timeline.record(
            ret,
            "unit_state_changed",
            f"{_label(unit)}: {unit.state} → {target}",
            by=by,
            unit=unit,
            from_state=unit.state,
            to_state=target,
        )
        for name, value in changes.items():
            setattr(unit, name, value)
    return len(movable)


def not_returned(unit: ReturnUnit, by: By) -> None:
    """Kept or donated: the unit will not come back."""
    _move(
        unit,
        U.NOT_RETURNED,
        by,
        f"{_label(unit)} will not come back: {unit.outcome.replace('_', ' ')}",
    )


def cancel(ret: Return, by: By) -> None:
    """The return ended before arrival: its units that can be cancelled are."""
    for unit in ret.units.exclude(state__in=[U.CANCELLED, U.NOT_RETURNED]):
        if allowed(UNIT_TRANSITIONS, unit.state, U.CANCELLED):
            _move(unit, U.CANCELLED, by)


def receive(unit: ReturnUnit, by: By) -> bool:
    """The warehouse confirms the unit arrived. False when it had already."""
    if unit.state in (U.RECEIVED, U.GRADED):
        return False  # scanning twice is harmless
    if not allowed(UNIT_TRANSITIONS, unit.state, U.RECEIVED):
        raise UnitError(f"unit {unit.external_id} is {unit.state}; it cannot be received")
    unit.received_at = timezone.now()
    unit.save(update_fields=["received_at"])
    who = f" by {by.actor}" if by.actor else ""
    _move(unit, U.RECEIVED, by, f"{_label(unit)} received{who}")
    return True


def has_posted(ret: Return, *, graded_only: bool = False) -> bool:
    """Khaos may already hold the return's document (``graded_only``: one built on grades)."""
    posted = ret.postings.filter(kind=PostingKind.RETURN).exclude(
        state__in=[PostingState.HELD, PostingState.WITHDRAWN]
    )
    return (posted.filter(process_return=True) if graded_only else posted).exists()


def grade(unit: ReturnUnit, disposition: str, condition: str, by: By) -> str:
    """Record a unit's grade (the platform's or the warehouse's); the timeline message."""
    ret = unit.return_ref
    if unit.state in (U.CANCELLED, U.NOT_RETURNED):
        raise UnitError(f"unit {unit.external_id} is {unit.state}; it cannot be graded")
    if has_posted(ret, graded_only=True):
        raise LateGrade(
            f"{ret.associated_ref} has already posted to Khaos with unit {unit.external_id} "
            f"graded {unit.disposition or 'as it was'}; a new grade would not reach Khaos. "
            "Correct it in Khaos."
        )
    previous = unit.state
    unit.disposition = disposition
    unit.condition = condition
    unit.graded_at = timezone.now()
    unit.graded_by = by.actor
    unit.state = U.GRADED
    unit.grade_note = ""
    if unit.received_at is None:
        unit.received_at = unit.graded_at  # a graded unit has arrived
    unit.save(
        update_fields=[
            "disposition",
            "condition",
            "graded_at",
            "graded_by",
            "received_at",
            "state",
            "grade_note",
        ]
    )
    if previous != U.GRADED:  # the move, on the timeline like every other
        timeline.record(
            ret,
            "unit_state_changed",
            f"{_label(unit)}: {previous} → graded",
            by=by,
            unit=unit,
            from_state=previous,
            to_state=U.GRADED,
        )
    return f"{_label(unit)} graded {disposition!r}" + (f" ({condition})" if condition else "")
