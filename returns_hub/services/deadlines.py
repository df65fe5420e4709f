"""Returns whose facts have not changed but whose time has: a wait is over.

Two deadlines move a return on with no event to trigger it: a graded return's
wait for the platform's settlement (then ``settlement_missing``), and units
refunded before inspection that have not arrived within the connection's limit
(then ``units_not_arrived``). A scheduled task asks for these returns and
re-evaluates them in short batches; the engine decides, as after any event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, Max, OuterRef

from returns_hub.choices import ExceptionKind, ExceptionStatus, PostingKind, ReturnState
from returns_hub.models import ExceptionCase, PlatformConnection, Posting, Return

NOT_ARRIVED = (ReturnState.EXPECTED, ReturnState.IN_TRANSIT, ReturnState.PARTLY_RECEIVED)


def settlement_overdue(connection: PlatformConnection, now: datetime) -> list[int]:
    """Graded returns still waiting for a settlement the platform has not reported."""
    hours = connection.settlement_wait
    if not hours:
        return []
    has_posting = Posting.objects.filter(return_ref=OuterRef("pk"), kind=PostingKind.RETURN)
    return list(
        Return.objects.filter(
            connection=connection,
            state=ReturnState.GRADED,
            refunded_at__isnull=True,
            store_credit_amount=0,
            exchange_amount=0,
            settlement_waived_at__isnull=True,
        )
        .exclude(Exists(has_posting))
        .annotate(graded=Max("units__graded_at"))
        .filter(graded__lte=now - timedelta(hours=hours))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def arrival_overdue(connection: PlatformConnection, now: datetime) -> list[int]:
    """Refunded returns whose goods are not all here after the limit, not yet flagged."""
    flagged = ExceptionCase.objects.filter(
        return_ref=OuterRef("pk"),
        kind=ExceptionKind.UNITS_NOT_ARRIVED,
        status__in=[ExceptionStatus.OPEN, ExceptionStatus.IGNORED],
    )
    return list(
        Return.objects.filter(
            connection=connection,
            state__in=NOT_ARRIVED,
            refunded_at__lte=now - timedelta(days=connection.units_not_arrived_days),
        )
        .exclude(Exists(flagged))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def overdue(now: datetime) -> list[int]:
    """Every return a deadline has just moved on, across the connections."""
    ids: set[int] = set()
    for connection in PlatformConnection.objects.all():
        ids.update(settlement_overdue(connection, now))
        ids.update(arrival_overdue(connection, now))
    return sorted(ids)
