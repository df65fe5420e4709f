"""Telling the platform the hub's grades: the outbox's one home (``WriteBack`` rows).

When a person grades a return's units on the hub, its platform does not know: it
never refunds, and a return waiting for the platform's settlement waits for ever.
Platforms whose connector writes back (``PlatformSpec.writes_back``) are told
through an outbox:

- ``graded`` (called where a person grades, inside that transaction) queues one row
  once every unit that comes back has its grade: the hub's grades and each one's stock
  action as ``payload``, the call's ``kind`` as the connector's writer plans it (Loop
  ``process``, or ``flag`` for a unit graded as a problem; Happy Returns ``approve``).
  A grade the platform reported itself is never told back. The same grades are never
  queued twice; new grades replace a row not yet tried, and once the platform has been
  (or may have been) told, new grades are not sent: the timeline says so.
- The sender (``connectors.base.writeback``, a task, never a web request) claims a due
  row with a conditional update, calls the platform, and records the answer here:
  ``succeeded``, or ``failed`` with when to try again (none: given up). A row given up
  opens ``platform_unreachable`` (data) with a cause per row; it closes itself when
  the row later succeeds.
- ``retry`` (the admin's "send again now", an exception's retry) makes a row due now.

The domain imports no connector: the task is a name, ``HUB["WRITEBACK_TASK"]`` (by
default ``connectors.writeback.send_one``), as the inbox's is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, PositiveIntegerField, Value, When
from django.utils import timezone
from django_q.tasks import async_task

from returns_hub import platforms
from returns_hub.choices import Cause, ExceptionKind, UnitState
from returns_hub.models import DispositionMapping, Return, ReturnUnit, WriteBack
from returns_hub.services import exceptions, timeline
from returns_hub.services.locks import lock_return
from returns_hub.services.timeline import By

S = WriteBack.State
# A row another worker is sending for longer than this lost its worker: it is tried again.
LEASE = timedelta(minutes=5)
CLAIMABLE = (S.PENDING, S.FAILED)
FINAL_UNITS = (UnitState.GRADED, UnitState.NOT_RETURNED)


def task_name() -> str:
    return settings.HUB["WRITEBACK_TASK"]


# --- queueing (the domain's side) -------------------------------------------------------


def unit_grades(ret: Return, units: list[ReturnUnit]) -> list[dict]:
    """Each unit as the hub graded it, with the stock action its disposition maps to."""
    codes = {u.disposition for u in units if u.disposition}
    actions = dict(
        DispositionMapping.objects.filter(
            platform=ret.connection.platform, disposition__in=codes
        ).values_list("disposition", "stock_action")
    )
    return [
        {
            "external_id": u.external_id,
            "sku": u.platform_sku,
            "state": u.state,
            "outcome": u.outcome,
            "disposition": u.disposition if u.state == UnitState.GRADED else "",
            "condition": u.condition if u.state == UnitState.GRADED else "",
            "stock_action": actions.get(u.disposition, "") if u.state == UnitState.GRADED else "",
            "graded_at": u.graded_at.isoformat() if u.graded_at else "",
            "graded_by": str(u.graded_by or ""),
        }
        for u in units
    ]


def digest(grades: list[dict]) -> str:
    """What the platform is told, without who or when: the same grades, the same digest."""
    told = [
        [g["external_id"], g["state"], g["disposition"], g["condition"], g["stock_action"]]
        for g in grades
    ]
    return hashlib.sha256(json.dumps(told, separators=(",", ":")).encode()).hexdigest()


def graded(ret: Return, *, by: By) -> WriteBack | None:
    """A person graded a unit of ``ret`` (whose lock the caller holds): queue the
    platform's write-back once every returned unit has its grade. The row, or None."""
    if by.cause != Cause.USER or by.actor is None:
        return None  # the platform's own grade: it knows
    connection = ret.connection
    spec = connection.spec
    if not spec.writes_back:
        return None
    units = list(ret.units.select_related("graded_by").order_by("id"))
    live = [u for u in units if u.state != UnitState.CANCELLED]
    if not live or any(u.state not in FINAL_UNITS for u in live):
        return None  # units still to grade: the platform is told all of them at once
    if not any(u.state == UnitState.GRADED for u in live):
        return None
    grades = unit_grades(ret, live)
    context = {
        "platform_state": ret.platform_state,
        "money_state": ret.money_state,
        "options": dict(connection.options or {}),
    }
    kind = platforms.write_back_plan(spec.slug)(grades, context)
    if not kind:
        return None
    key = digest(grades)
    rows = WriteBack.objects.filter(return_ref=ret)
    same = rows.filter(kind=kind, digest=key).first()
    if same is not None and same.state != S.CANCELLED:
        return same  # these grades are queued (or told) already
    # Earlier grades not yet tried are replaced; once a call was tried, the platform may
    # know them (a refund may be under way): the new grades are not sent.
    earlier = rows.exclude(state=S.CANCELLED)
    count = earlier.count()
    untried = earlier.filter(state=S.PENDING, attempts=0)
    if count and untried.update(state=S.CANCELLED, updated_at=timezone.now()) != count:
        told = earlier.exclude(state=S.CANCELLED).order_by("-id").first()
        timeline.record(
            ret,
            "write_back_not_sent",
            f"{spec.label} was already told this return's earlier grades ({told.kind}, "
            f"{told.get_state_display().lower()}): the new grades are not sent. "
            "Correct them on the platform.",
            by=by,
        )
        return None
    payload = {
        "return": {
            "external_id": ret.external_id,
            "associated_ref": ret.associated_ref,
            "order_ref": ret.order_ref,
            "currency": ret.currency,
        },
        "units": grades,
    }
    if same is not None:  # these grades were replaced, and now come back: queue them again
        WriteBack.objects.filter(pk=same.pk).update(
            state=S.PENDING,
            payload=payload,
            next_attempt_at=timezone.now(),
            queued_by=by.actor,
            updated_at=timezone.now(),
        )
        row = WriteBack.objects.get(pk=same.pk)
    else:
        row = WriteBack.objects.create(
            connection=connection,
            return_ref=ret,
            kind=kind,
            digest=key,
            payload=payload,
            queued_by=by.actor,
        )
    graded_count = sum(1 for g in grades if g["state"] == UnitState.GRADED)
    timeline.record(
        ret,
        "write_back_queued",
        f"{spec.label} will be told the grades of {graded_count} unit(s): {kind} "
        f"(write-back {row.pk})",
        by=by,
        details={"write_back": row.pk, "kind": kind},
    )
    row_id = row.pk
    transaction.on_commit(lambda: enqueue(row_id))
    return row


def enqueue(row_id: int) -> None:
    """Queue one row's sending now; the task skips a row that is not due."""
    async_task(task_name(), row_id, task_name=f"write-back-{row_id}", group="writeback")


@transaction.atomic
def retry(row: WriteBack, *, user=None) -> bool:
    """Send a row again now (a failed or given-up one; a waiting one sooner). False when it
    is done, being sent, or was replaced by new grades."""
    now = timezone.now()
    ret = lock_return(row.return_ref_id)  # its timeline is the return's: the return's lock
    changed = WriteBack.objects.filter(pk=row.pk, state__in=[S.PENDING, S.FAILED, S.DEAD]).update(
        # A row given up starts a fresh count of attempts.
        attempts=Case(
            When(state=S.DEAD, then=Value(0)),
            default=F("attempts"),
            output_field=PositiveIntegerField(),
        ),
        state=S.PENDING,
        next_attempt_at=now,
        updated_at=now,
    )
    if not changed:
        return False
    row.refresh_from_db()
    who = f" by {user}" if user else ""
    timeline.record(
        ret,
        "write_back_retried",
        f"Write-back {row.pk} ({row.kind}) sent again now{who}",
        by=By(Cause.USER, actor=user) if user else timeline.TASK,
    )
    row_id = row.pk
    transaction.on_commit(lambda: enqueue(row_id))
    return True


# --- sending (the task's side: each move a conditional update) ---------------------------


def due(now: datetime, limit: int) -> list[int]:
    """Rows to send now, soonest first."""
    return list(
        WriteBack.objects.filter(state__in=CLAIMABLE, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def release_stale(now: datetime) -> int:
    """Rows whose sender stopped mid-call (its lease ran out): tried again, their
    outcome unknown. How many."""
    return WriteBack.objects.filter(state=S.SENDING, next_attempt_at__lte=now).update(
        state=S.FAILED,
        last_error="the send was interrupted before the platform's answer was recorded",
        updated_at=now,
    )


def claim(row_id: int, now: datetime) -> WriteBack | None:
    """Take a due row for sending, or None when it is not due or another worker has it.

    One conditional update (``… WHERE state IN (pending, failed) AND next_attempt_at <=
    now``): of two workers, one changes the row and the other changes nothing.
    """
    claimed = WriteBack.objects.filter(
        pk=row_id, state__in=CLAIMABLE, next_attempt_at__lte=now
    ).update(
        state=S.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        next_attempt_at=now + LEASE,
        updated_at=now,
    )
    if not claimed:
        return None
    return WriteBack.objects.select_related("connection", "return_ref").get(pk=row_id)


def _mine(row: WriteBack):
    """The row while this sender still holds it (its claim, fenced by the attempt)."""
    return WriteBack.objects.filter(pk=row.pk, state=S.SENDING, attempts=row.attempts)


def _cause(row: WriteBack) -> str:
    return f"platform_unreachable:write_back:{row.pk}"


def succeeded(row: WriteBack, *, status: int, response: str, request: dict) -> bool:
    """The platform accepted the call. False when this sender had lost the row."""
    now = timezone.now()
    with transaction.atomic():
        ret = lock_return(row.return_ref_id)
        done = _mine(row).update(
            state=S.DONE,
            sent_at=now,
            last_status=status,
            last_error="",
            response=response[:4000],
            request=request,
            updated_at=now,
        )
        if not done:
            return False
        spec = row.connection.spec
        timeline.record(
            ret,
            "write_back_sent",
            f"{spec.label} accepted {row.kind} (write-back {row.pk}, HTTP {status})",
            by=timeline.TASK,
            details={"write_back": row.pk, "status": status},
        )
        exceptions.close_cause(
            _cause(row), f"Resolved automatically: {spec.label} accepted the write-back."
        )
    return True


def failed(
    row: WriteBack,
    *,
    error: str,
    status: int | None,
    response: str,
    request: dict,
    retry_at: datetime | None,
    counts: bool = True,
) -> bool:
    """The call failed: tried again at ``retry_at``, or given up (None), which opens
    ``platform_unreachable`` for the data team. An attempt that does not ``count`` (the
    platform only asked us to slow down) is not counted towards giving up. False when
    this sender had lost the row."""
    now = timezone.now()
    error = error.replace("\x00", "\\x00")[:2000]
    with transaction.atomic():
        ret = lock_return(row.return_ref_id)
        moved = _mine(row).update(
            attempts=F("attempts") if counts else F("attempts") - 1,
            state=S.FAILED if retry_at else S.DEAD,
            next_attempt_at=retry_at or now,
            last_status=status,
            last_error=error,
            response=response[:4000],
            request=request,
            updated_at=now,
        )
        if not moved or retry_at is not None:
            return bool(moved)
        spec = row.connection.spec
        timeline.record(
            ret,
            "write_back_failed",
            f"{spec.label} could not be told {row.kind} (write-back {row.pk}) after "
            f"{row.attempts} attempt(s): {error}",
            by=timeline.TASK,
            details={"write_back": row.pk, "status": status},
        )
        exceptions.open_exception(
            ExceptionKind.PLATFORM_UNREACHABLE,
            cause_key=_cause(row),
            message=f"{spec.label} ({row.connection.slug}) was not told {ret.associated_ref}'s "
            f"grades ({row.kind}, write-back {row.pk}) after {row.attempts} attempt(s): "
            f"{error} Fix the cause, then send it again.",
            return_ref=ret,
            connection=row.connection,
            details={"write_back_id": row.pk, "kind": row.kind, "status": status},
        )
    return True


def for_exception(case) -> WriteBack | None:
    """The write-back a ``platform_unreachable`` case is about, if it is about one."""
    row_id = (case.details or {}).get("write_back_id")
    if case.kind != ExceptionKind.PLATFORM_UNREACHABLE or not row_id:
        return None
    return WriteBack.objects.filter(pk=row_id).select_related("return_ref").first()
