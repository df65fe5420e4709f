"""The demo's deadlines, reached with the clock moved on.

The demo cannot wait a channel's confirmation days (``posting_unconfirmed``) or a
connection's settlement wait (``settlement_missing``), so it runs the same deadline
checks as the schedules do, at a moment just past one return's deadline, and only
when that return is the only one the check would move on.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Max

from returns_hub.choices import PostingKind
from returns_hub.models import PlatformConnection, Posting, Return
from returns_hub.services import deadlines, engine, postings
from returns_hub.services.locks import lock_return


def flag_overdue_alone(connection: PlatformConnection, order_ref: str) -> str:
    """Flag the posting of the return for ``order_ref`` as unconfirmed, alone; what was
    done, or "" for nothing."""
    posting = Posting.objects.filter(
        return_ref__connection=connection,
        return_ref__order_ref=order_ref,
        kind=PostingKind.RETURN,
        confirm_by__isnull=False,
    ).first()
    if posting is None:
        return ""
    moment = posting.confirm_by + timedelta(microseconds=1)
    if list(postings.unflagged_overdue(moment).values_list("pk", flat=True)) != [posting.pk]:
        return ""  # flagged before, or older postings would be flagged with it
    postings.flag_unconfirmed(now=moment)
    return f"{posting.associated_ref} is past its confirmation deadline (posting_unconfirmed)"


def wait_out_settlement(connection: PlatformConnection, order_ref: str) -> str:
    """Evaluate the graded return for ``order_ref`` as the deadline check would once its
    settlement wait is over (``settlement_missing``); what was done, or "" for nothing.

    Until the wait is really over, the next evaluation of the return closes the case
    again, and the check-deadlines schedule opens it for good a day later.
    """
    ret = Return.objects.filter(connection=connection, order_ref=order_ref).first()
    graded = ret.units.aggregate(last=Max("graded_at"))["last"] if ret else None
    if graded is None or not connection.settlement_wait:
        return ""
    moment = graded + timedelta(hours=connection.settlement_wait, minutes=1)
    if deadlines.settlement_overdue(connection, moment) != [ret.pk]:
        return ""  # settled, posted or already told, or others would move with it
    if ret.exceptions.filter(kind="settlement_missing").exists():
        return ""
    with transaction.atomic():
        engine.evaluate(lock_return(ret.pk), now=moment)
    return f"{ret.associated_ref} waited out its settlement (settlement_missing)"
