"""What people do to returns and exceptions: the warehouse, finance and every team.

Each action locks the return, records who did it on the timeline, and lets the
engine decide what follows.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from returns_hub.choices import Cause, ExceptionKind, ExceptionStatus, UnitState
from returns_hub.models import ExceptionCase, Return, ReturnUnit
from returns_hub.services import engine, ingest, timeline
from returns_hub.state_machine import UNIT_TRANSITIONS, allowed, move_unit


class ActionError(ValueError):
    """The action does not apply to the object as it stands; the message says why."""


def _lock(ret: Return) -> Return:
    return (
        Return.objects.select_related("connection__khaos_channel")
        .select_for_update(of=("self",))
        .get(pk=ret.pk)
    )


@transaction.atomic
def receive_unit(unit: ReturnUnit, *, user) -> ReturnUnit:
    ret = _lock(unit.return_ref)
    unit = ret.units.get(pk=unit.pk)
    if unit.state == UnitState.RECEIVED:
        return unit  # scanning twice is harmless
    if not allowed(UNIT_TRANSITIONS, unit.state, UnitState.RECEIVED):
        raise ActionError(f"unit {unit.external_id} is {unit.state}; it cannot be received")
    unit.received_at = timezone.now()
    unit.save(update_fields=["received_at"])
    message = f"Unit {unit.external_id} ({unit.platform_sku}) received by {user}"
    move_unit(unit, UnitState.RECEIVED, cause=Cause.USER, actor=user, message=message)
    engine.evaluate(ret, cause=Cause.USER, actor=user)
    return unit


@transaction.atomic
def grade_unit(unit: ReturnUnit, disposition: str, *, user, condition: str = "") -> ReturnUnit:
    disposition = (disposition or "").strip()
    if not disposition:
        raise ActionError("a grade needs a disposition code")
    ret = _lock(unit.return_ref)
    unit = ret.units.select_related("return_ref__connection").get(pk=unit.pk)
    if unit.state in (UnitState.CANCELLED, UnitState.NOT_RETURNED):
        raise ActionError(f"unit {unit.external_id} is {unit.state}; it cannot be graded")
    message = ingest.grade(unit, disposition, condition, cause=Cause.USER, actor=user)
    timeline.record(ret, "graded_by_user", message, cause=Cause.USER, actor=user, unit=unit)
    engine.evaluate(ret, cause=Cause.USER, actor=user)
    unit.refresh_from_db()
    return unit


@transaction.atomic
def approve_value(ret: Return, *, user, note: str = "") -> Return:
    """Finance accepts what the platform settled; the posting goes if nothing else holds it."""
    ret = _lock(ret)
    case = ret.exceptions.filter(
        kind=ExceptionKind.VALUE_MISMATCH, status=ExceptionStatus.OPEN
    ).first()
    if case is None:
        raise ActionError(f"{ret} has no open value mismatch to approve")
    ret.value_approved_amount = engine.settlement(ret)
    ret.value_approved_by = user
    ret.value_approved_at = timezone.now()
    ret.save(update_fields=["value_approved_amount", "value_approved_by", "value_approved_at",
                            "updated_at"])  # fmt: skip
    _close(case, user, f"Approved by finance: {note}".rstrip(": "), ExceptionStatus.RESOLVED)
    timeline.record(ret, "value_approved",
                    f"Settlement of {ret.value_approved_amount} {ret.currency} approved"
                    + (f": {note}" if note else ""), cause=Cause.USER, actor=user)  # fmt: skip
    engine.evaluate(ret, cause=Cause.USER, actor=user)
    return ret


def _close(case: ExceptionCase, user, note: str, status: str) -> None:
    case.status = status
    case.resolution = note
    case.resolved_by = user
    case.resolved_at = timezone.now()
    case.save(update_fields=["status", "resolution", "resolved_by", "resolved_at", "updated_at"])


@transaction.atomic
def resolve_exception(case: ExceptionCase, *, user, note: str = "") -> ExceptionCase:
    """Mark it resolved and evaluate again: if the cause is still there, a new one opens."""
    case = ExceptionCase.objects.select_for_update().get(pk=case.pk)
    if case.status != ExceptionStatus.OPEN:
        raise ActionError(f"exception {case.pk} is already {case.status}")
    if case.kind == ExceptionKind.VALUE_MISMATCH and case.return_ref is not None:
        approve_value(case.return_ref, user=user, note=note)
        case.refresh_from_db()
        return case
    _close(case, user, note or "Resolved", ExceptionStatus.RESOLVED)
    _after(
        case, user, f"{case.get_kind_display()} resolved by {user}" + (f": {note}" if note else "")
    )
    return case


@transaction.atomic
def ignore_exception(case: ExceptionCase, *, user, note: str) -> ExceptionCase:
    """Acknowledge a cause that will not be fixed. The return stays held by it."""
    if not (note or "").strip():
        raise ActionError("say why the exception is ignored")
    case = ExceptionCase.objects.select_for_update().get(pk=case.pk)
    if case.status != ExceptionStatus.OPEN:
        raise ActionError(f"exception {case.pk} is already {case.status}")
    _close(case, user, note.strip(), ExceptionStatus.IGNORED)
    if case.return_ref_id:
        timeline.record(case.return_ref, "exception_ignored",
                        f"{case.get_kind_display()} ignored by {user}: {note.strip()}",
                        cause=Cause.USER, actor=user)  # fmt: skip
    return case


@transaction.atomic
def retry_exception(case: ExceptionCase, *, user) -> ExceptionCase:
    """Try again now: evaluate the return, or process the delivery again."""
    if case.kind == ExceptionKind.INVALID_PAYLOAD and case.delivery_id:
        from django_q.tasks import async_task

        from returns_hub.choices import InboxStatus

        case.delivery.status = InboxStatus.RECEIVED
        case.delivery.save(update_fields=["status"])
        transaction.on_commit(lambda: async_task(
            "connectors.tasks.process_delivery", case.delivery_id))  # fmt: skip
        return case
    if case.return_ref_id is None:
        raise ActionError(f"exception {case.pk} has nothing to retry")
    ret = _lock(case.return_ref)
    timeline.record(ret, "retried", f"{case.get_kind_display()}: retried by {user}",
                    cause=Cause.USER, actor=user)  # fmt: skip
    engine.evaluate(ret, cause=Cause.USER, actor=user)
    case.refresh_from_db()
    return case


def _after(case: ExceptionCase, user, message: str) -> None:
    if case.return_ref_id is None:
        return
    ret = _lock(case.return_ref)
    timeline.record(ret, "exception_resolved", message, cause=Cause.USER, actor=user)
    engine.evaluate(ret, cause=Cause.USER, actor=user)
