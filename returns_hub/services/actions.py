"""What people do to returns and exceptions: the warehouse, finance and every team.

The API and the screens call these and nothing else. Each action takes the
return's lock first and the exception's second (``locks``), records who did
it on the timeline, and lets the engine decide what follows.

Resolve and ignore mean different things (DESIGN "nothing is held in silence"):

- **Resolve** says the cause is fixed. For a cause the engine watches, the
  return is evaluated again and the resolve is refused while the cause is
  still there. Finance resolves ``value_mismatch`` by approving the settled
  value, ``settlement_missing`` by releasing the return at its expected
  credit; CX resolves ``exchange_unavailable`` by closing the exchange for
  good (refunded instead, or another item sent outside the hub).
- **Ignore** says "handled outside the hub", with a note: the hub stops acting
  on that cause for good. The document it holds is withdrawn and never
  posted; an ignored ``value_mismatch`` is an approval; an ignored
  ``exchange_unavailable`` closes the exchange for good.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from returns_hub.choices import Cause, ExceptionKind, ExceptionStatus
from returns_hub.models import ExceptionCase, ExchangeRequest, Return, ReturnUnit
from returns_hub.services import (
    engine,
    exceptions,
    exchanges,
    inbox,
    postings,
    timeline,
    units,
    writeback,
)
from returns_hub.services.errors import ActionError
from returns_hub.services.locks import lock_return
from returns_hub.services.timeline import By

K = ExceptionKind
__all__ = ["ActionError"]


def _user(user) -> By:
    return By(Cause.USER, actor=user)


@transaction.atomic
def receive_unit(unit: ReturnUnit, *, user) -> ReturnUnit:
    ret = lock_return(unit.return_ref_id)
    unit = ret.units.get(pk=unit.pk)
    if units.receive(unit, _user(user)):
        engine.evaluate(ret, by=_user(user))
    return unit


@transaction.atomic
def grade_unit(unit: ReturnUnit, disposition: str, *, user, condition: str = "") -> ReturnUnit:
    disposition = (disposition or "").strip()
    if not disposition:
        raise ActionError("a grade needs a disposition code")
    ret = lock_return(unit.return_ref_id)
    unit = ret.units.get(pk=unit.pk)
    unit.return_ref = ret
    message = units.grade(unit, disposition, condition, _user(user))
    timeline.record(ret, "graded_by_user", message, by=_user(user), unit=unit)
    engine.evaluate(ret, by=_user(user))
    writeback.graded(ret, by=_user(user))  # the platform is told, once every unit is graded
    unit.refresh_from_db()
    return unit


@transaction.atomic
def approve_value(ret: Return, *, user, note: str = "") -> Return:
    """Finance accepts what the platform settled; the posting goes if nothing else holds it."""
    ret = lock_return(ret)
    case = ret.exceptions.filter(kind=K.VALUE_MISMATCH, status=ExceptionStatus.OPEN).first()
    if case is None:
        raise ActionError(f"{ret} has no open value mismatch to approve")
    _approve(ret, case, user, note)
    exceptions.close(case, f"Approved by finance: {note}".rstrip(": "), user=user)
    engine.evaluate(ret, by=_user(user))
    return ret


def _approve(ret: Return, case: ExceptionCase, user, note: str) -> None:
    """Approve the settlement the case showed, and only while it is still the settlement."""
    shown = Decimal(case.details["settled"])
    settled = engine.value.settlement(ret)
    if settled != shown:
        raise ActionError(
            f"the platform has settled {settled} {ret.currency} since this case showed {shown}; "
            "look at the new figure before approving it"
        )
    ret.value_approved_amount = shown
    ret.value_approved_by = user
    ret.value_approved_at = timezone.now()
    ret.save(
        update_fields=[
            "value_approved_amount",
            "value_approved_by",
            "value_approved_at",
            "updated_at",
        ]
    )
    timeline.record(
        ret,
        "value_approved",
        f"Settlement of {shown} {ret.currency} approved" + (f": {note}" if note else ""),
        by=_user(user),
    )


def _waive_settlement(ret: Return, user, note: str) -> None:
    ret.settlement_waived_by = user
    ret.settlement_waived_at = timezone.now()
    ret.save(update_fields=["settlement_waived_by", "settlement_waived_at", "updated_at"])
    timeline.record(
        ret,
        "settlement_waived",
        "Released without the platform's settlement, at "
        "the expected credit" + (f": {note}" if note else ""),
        by=_user(user),
    )


def _locked_case(case: ExceptionCase) -> tuple[ExceptionCase, Return | None]:
    """The return's lock, then the case's: the one lock order."""
    ret = lock_return(case.return_ref_id) if case.return_ref_id else None
    case = exceptions.lock(case)
    if case.status != ExceptionStatus.OPEN:
        raise ActionError(f"exception {case.pk} is already {case.status}")
    return case, ret


def _exchange_of(case: ExceptionCase) -> ExchangeRequest | None:
    if case.posting_id and case.posting.exchange_id:
        return case.posting.exchange
    exchange_id = (case.details or {}).get("exchange_id")
    return ExchangeRequest.objects.filter(pk=exchange_id).first() if exchange_id else None


@transaction.atomic
def resolve_exception(case: ExceptionCase, *, user, note: str = "") -> ExceptionCase:
    case, ret = _locked_case(case)
    note = (note or "").strip()
    text = f"Resolved by {user}" + (f": {note}" if note else "")
    by = _user(user)
    if ret is not None and case.kind in engine.ENGINE_KINDS:
        if case.kind == K.VALUE_MISMATCH:
            _approve(ret, case, user, note)
        elif case.kind == K.SETTLEMENT_MISSING:
            _waive_settlement(ret, user, note)
        elif case.kind == K.EXCHANGE_UNAVAILABLE and (exchange := _exchange_of(case)):
            exchanges.close_for_good(exchange, f"resolved outside the hub by {user}", by)
        engine.evaluate(ret, by=by)
        case.refresh_from_db()
        if case.status == ExceptionStatus.OPEN:
            raise ActionError(
                f"the cause is still there: {case.message} Fix it, or ignore the "
                "exception if it is handled outside the hub."
            )
        ExceptionCase.objects.filter(pk=case.pk).update(resolved_by=user, resolution=text)
    else:
        exceptions.close(case, text, user=user)
    if ret is not None:
        timeline.record(ret, "exception_resolved", f"{case.get_kind_display()}: {text}", by=by)
    case.refresh_from_db()
    return case


@transaction.atomic
def ignore_exception(case: ExceptionCase, *, user, note: str) -> ExceptionCase:
    """Handled outside the hub: the hub stops acting on this cause, for good."""
    note = (note or "").strip()
    if not note:
        raise ActionError("say why the exception is ignored: where it is handled")
    case, ret = _locked_case(case)
    by = _user(user)
    exceptions.close(case, note, user=user, status=ExceptionStatus.IGNORED)
    if ret is not None:
        timeline.record(
            ret, "exception_ignored", f"{case.get_kind_display()} ignored by {user}: {note}", by=by
        )
        _handled_outside(case, ret, note, by)
        engine.evaluate(ret, by=by)
    case.refresh_from_db()
    return case


def _handled_outside(case: ExceptionCase, ret: Return, note: str, by: By) -> None:
    """What ignoring this cause means for the document it blocks."""
    if case.kind == K.VALUE_MISMATCH:
        _approve(ret, case, by.actor, note)  # an ignored mismatch is an approval
        return
    if case.kind not in engine.ENGINE_KINDS or case.kind in engine.STATEMENTS:
        return  # it holds no document: the hub simply stops raising it
    exchange = _exchange_of(case)
    if exchange is not None:
        exchanges.close_for_good(exchange, f"handled outside the hub: {note}", by)
        return
    posting = postings.hold_return(ret, ret.connection.khaos_channel, by)
    postings.withdraw(posting, reason=f"handled outside the hub: {note}", by=by)
    exceptions.close(
        ret.exceptions.filter(kind__in=engine.ENGINE_KINDS - engine.STATEMENTS).filter(
            details__exchange_id__isnull=True
        ),
        f"Closed: {ret.associated_ref} is handled outside the hub ({note}).",
    )


@transaction.atomic
def retry_exception(case: ExceptionCase, *, user) -> ExceptionCase:
    """Try again now: evaluate the return, or process the delivery again."""
    if case.kind == K.INVALID_PAYLOAD and case.delivery_id:
        inbox.requeue(case.delivery)
        return case
    if (row := writeback.for_exception(case)) is not None:  # a platform not told its grades
        if not writeback.retry(row, user=user):
            raise ActionError(f"write-back {row.pk} is {row.state}: nothing to send again")
        return case
    if case.return_ref_id is None:
        raise ActionError(f"exception {case.pk} has nothing to retry")
    ret = lock_return(case.return_ref_id)
    timeline.record(ret, "retried", f"{case.get_kind_display()}: retried by {user}", by=_user(user))
    engine.evaluate(ret, by=_user(user))
    case.refresh_from_db()
    return case


@transaction.atomic
def assign_exception(case: ExceptionCase, *, user, assignee) -> ExceptionCase:
    """Say who works on an open case (``assignee`` None: nobody). Only an open case is
    assigned: a closed one has nobody left to work on it."""
    case, ret = _locked_case(case)
    if assignee is not None and not (
        assignee.is_superuser or assignee.groups.filter(name=case.owner).exists()
    ):
        raise ActionError(f"{assignee} is not in the {case.owner} team, which owns this case")
    if case.assignee_id == (assignee.pk if assignee is not None else None):
        return case  # already so: nothing changes, nothing is recorded
    ExceptionCase.objects.filter(pk=case.pk).update(assignee=assignee, updated_at=timezone.now())
    if ret is not None:
        text = f"assigned to {assignee}" if assignee is not None else "unassigned"
        timeline.record(
            ret,
            "exception_assigned",
            f"{case.get_kind_display()}: {text} by {user}",
            by=_user(user),
        )
    case.refresh_from_db()
    return case
