"""A posting's life, written here and nowhere else.

    (made) ─► held ──► ready ──► downloaded ──► confirmed
      │        │            │              │
      └────────┴──► withdrawn (never served)    cancelled (an exchange order Khaos cancelled)

Every move is a conditional update (``UPDATE … WHERE state IN <expected>``),
or a row lock taken with the same condition, so two writers racing (a
cancellation and a Khaos download, two workers on one return) cannot both
win: the loser's update matches no row, and it is told so. A withdrawn
posting was never served; a served one is never withdrawn. The engine, the
Khaos channel and reconciliation call these functions; nothing else writes a
posting's state.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from returns_hub.choices import (
    ExceptionKind,
    MoneyState,
    PostingKind,
    PostingPolicy,
    PostingState,
)
from returns_hub.models import ExceptionCase, ExchangeRequest, KhaosChannel, Posting, Return
from returns_hub.services import exceptions, timeline
from returns_hub.services.locks import lock_free_returns
from returns_hub.services.timeline import By
from returns_hub.state_machine import move_return

S = PostingState
SERVABLE = (S.READY, S.DOWNLOADED, S.CONFIRMED)
WITHDRAWABLE = (S.HELD, S.READY)
OUTSTANDING = (S.READY, S.DOWNLOADED)  # Khaos has been offered it and has not confirmed it
BATCH = 500
SKIPPED_TRIES = 4  # a batch's rows held by another worker: tried this often
SKIPPED_WAIT = 0.2  # seconds apart (a Khaos page holds its postings about this long)


def return_posting(ret: Return) -> Posting | None:
    return ret.postings.filter(kind=PostingKind.RETURN).first()


def exchange_ref(ret: Return, exchange: ExchangeRequest) -> str:
    suffix = "-X" if exchange.sequence == 1 else f"-X{exchange.sequence}"
    return f"{ret.associated_ref}{suffix}"


# --- made (held), ready, withdrawn -------------------------------------------------


def hold_return(ret: Return, channel: KhaosChannel | None, by: By) -> Posting:
    """The return's customer-return posting, made held if it does not exist yet."""
    posting = return_posting(ret)
    if posting is not None:
        return posting
    posting = Posting.objects.create(
        channel=channel,
        return_ref=ret,
        kind=PostingKind.RETURN,
        platform=ret.connection.platform,
        associated_ref=ret.associated_ref,
        state=S.HELD,
        currency=ret.currency,
        process_return=ret.connection.posting_policy != PostingPolicy.ON_REFUND_UNPROCESSED,
    )
    timeline.record(ret, "posting_created", f"Posting {posting.associated_ref} created", by=by)
    return posting


def hold_exchange(ret: Return, exchange: ExchangeRequest, channel, by: By) -> Posting:
    """The exchange's sales-order posting (…-X), made held if it does not exist yet.

    An exchange's order is made only once it can be placed (``exchanges.place``),
    so it is held for no longer than the same transaction.
    """
    posting = Posting.objects.filter(exchange=exchange).first()
    if posting is not None:
        return posting
    posting = Posting.objects.create(
        channel=channel,
        return_ref=ret,
        exchange=exchange,
        kind=PostingKind.EXCHANGE_ORDER,
        platform=ret.connection.platform,
        associated_ref=exchange_ref(ret, exchange),
        state=S.HELD,
        currency=ret.currency,
        process_return=False,
    )
    timeline.record(
        ret, "posting_created", f"Exchange order {posting.associated_ref} created", by=by
    )
    return posting


def make_ready(
    posting: Posting, *, channel: KhaosChannel, document: str, expected: Decimal, by: By
) -> bool:
    """Held → ready with its document, fixed from now on. False if it was not held."""
    now = timezone.now()
    values = {
        "state": S.READY,
        "channel": channel,
        "document": document,
        "expected_credit": expected,
        "ready_at": now,
        "confirm_by": now + timedelta(days=channel.confirmation_days),
    }
    if not Posting.objects.filter(pk=posting.pk, state=S.HELD).update(**values):
        return False
    for name, value in values.items():
        setattr(posting, name, value)
    ret = posting.return_ref
    if posting.kind == PostingKind.RETURN:
        timeline.record(
            ret,
            "posting_ready",
            f"Posting {posting.associated_ref} ready for Khaos: credit {expected} "
            f"{posting.currency}, ProcessReturn {str(posting.process_return).lower()}",
            by=by,
        )
        move_return(ret, "money_state", MoneyState.POSTED, cause=by.cause, actor=by.actor)
    else:
        timeline.record(
            ret,
            "exchange_ordered",
            f"Exchange order {posting.associated_ref} "
            f"ready for Khaos at site {channel.site_id}, zero value",
            by=by,
        )
    return True


def create_ready(made: list[Posting], *, now) -> None:
    """Documents made ready in bulk (generated data): inserted ready, as make_ready leaves them."""
    for posting in made:
        posting.state, posting.ready_at = S.READY, now
        posting.confirm_by = now + timedelta(days=posting.channel.confirmation_days)
    Posting.objects.bulk_create(made)


def unmake(posting: Posting, *, why: str, by: By) -> bool:
    """A held document whose return is no longer due (a new unit to grade) is put back.

    It was never served and has no text yet, so nothing is lost: it is made again,
    under the same reference, once the return is due. A posting Khaos may have
    seen is never unmade.
    """
    done, _ = Posting.objects.filter(pk=posting.pk, state=S.HELD, document="").delete()
    if done:
        timeline.record(
            posting.return_ref,
            "posting_unmade",
            f"Posting {posting.associated_ref} put back: {why}",
            by=by,
        )
    return bool(done)


def withdraw(posting: Posting, *, reason: str, by: By) -> bool:
    """Held or ready, never served → withdrawn. False when Khaos already has it."""
    now = timezone.now()
    done = Posting.objects.filter(
        pk=posting.pk, state__in=WITHDRAWABLE, first_downloaded_at__isnull=True
    ).update(
        state=S.WITHDRAWN, withdrawn_at=now, withdrawn_reason=reason[:255], withdrawn_by=by.actor
    )
    ret = posting.return_ref
    if done:
        posting.state, posting.withdrawn_at, posting.withdrawn_reason = S.WITHDRAWN, now, reason
        timeline.record(
            ret, "posting_withdrawn", f"Posting {posting.associated_ref} withdrawn: {reason}", by=by
        )
        exceptions.close_cause(unconfirmed_cause(posting), "Closed: the posting was withdrawn.")
        if posting.kind == PostingKind.RETURN and ret.money_state == MoneyState.POSTED:
            paid = ret.refunded_at is not None or ret.store_credit_amount > 0
            back = MoneyState.REFUNDED if paid else MoneyState.NONE
            move_return(ret, "money_state", back, cause=by.cause, actor=by.actor)
        return True
    posting.refresh_from_db(fields=["state", "first_downloaded_at"])
    key = f"posting_not_withdrawn:{posting.pk}"  # said once, however often it is asked
    if posting.state != S.WITHDRAWN and not timeline.seen(ret, key):
        timeline.record(
            ret,
            "posting_not_withdrawn",
            f"Posting {posting.associated_ref} could not be withdrawn ({reason}): "
            f"Khaos already has it ({posting.state})",
            by=by,
            event_key=key,
        )
    return False


# --- served -------------------------------------------------------------------------


def serve_new(channel: KhaosChannel, kind: str, limit: int) -> list[Posting]:
    """Claim up to ``limit`` ready, never-served documents: numbered and downloaded.

    The caller holds the channel's row lock, so numbers only grow in the order
    Khaos sees them. The rows are locked before they are claimed: a withdrawal
    racing this waits, then finds them downloaded and leaves them be.
    """
    if limit <= 0:
        return []
    postings = list(
        Posting.objects.select_for_update(of=("self",))
        .filter(channel=channel, kind=kind, serve_seq__isnull=True, state=S.READY)
        .order_by("id")[:limit]
    )
    number(channel, kind, postings)
    return postings


def number(channel: KhaosChannel, kind: str, postings: list[Posting]) -> None:
    """Give serve numbers to postings served for the first time (under the channel lock)."""
    postings = [p for p in postings if p.serve_seq is None]
    if not postings:
        return
    last = Posting.objects.filter(channel=channel, kind=kind).aggregate(m=Max("serve_seq"))["m"]
    for offset, posting in enumerate(postings, start=1):
        posting.serve_seq = (last or 0) + offset
    Posting.objects.bulk_update(postings, ["serve_seq"])


def mark_served(postings: list[Posting]) -> None:
    """Khaos was sent these documents: count it, and ready → downloaded.

    The caller holds their row locks (``serve_new``, the channel's page), so the
    condition on the state only guards against a caller that does not.
    """
    if not postings:
        return
    now = timezone.now()
    served = Posting.objects.filter(pk__in=[p.pk for p in postings], state__in=SERVABLE)
    served.update(download_count=F("download_count") + 1, last_downloaded_at=now)
    served.filter(first_downloaded_at__isnull=True).update(first_downloaded_at=now)
    served.filter(state=S.READY).update(state=S.DOWNLOADED)


# --- confirmed, cancelled ---------------------------------------------------------------


def confirm(posting: Posting, *, ref: str, by: By, how: str = "") -> bool:
    """Khaos raised the document (a credit note, a sales order). False if not outstanding."""
    now = timezone.now()
    done = Posting.objects.filter(pk=posting.pk, state__in=OUTSTANDING).update(
        state=S.CONFIRMED, confirmed_at=now, confirmation_ref=ref[:50]
    )
    if not done:
        return False
    posting.state, posting.confirmed_at, posting.confirmation_ref = S.CONFIRMED, now, ref[:50]
    ret = posting.return_ref
    timeline.record(
        ret,
        "posting_confirmed",
        f"Khaos confirmed {posting.associated_ref}"
        + (f" as {ref}" if ref else "")
        + (f" ({how})" if how else ""),
        by=by,
    )
    exceptions.close_cause(
        unconfirmed_cause(posting), "Resolved automatically: Khaos confirmed it."
    )
    if posting.kind == PostingKind.RETURN and ret.money_state == MoneyState.POSTED:
        move_return(ret, "money_state", MoneyState.CONFIRMED, cause=by.cause, actor=by.actor)
    return True


def cancel(posting: Posting, *, ref: str, by: By) -> bool:
    """Khaos cancelled the order it raised: an exception for CX, never a confirmation."""
    done = Posting.objects.filter(pk=posting.pk, state__in=(*OUTSTANDING, S.CONFIRMED)).update(
        state=S.CANCELLED, cancelled_at=timezone.now(), confirmation_ref=ref[:50]
    )
    if not done:
        return False
    posting.state = S.CANCELLED
    ret = posting.return_ref
    exceptions.close_cause(unconfirmed_cause(posting), "Closed: Khaos cancelled the order.")
    timeline.record(
        ret,
        "posting_cancelled",
        f"Khaos cancelled order {ref or '?'} for {posting.associated_ref}",
        by=by,
    )
    case, created = exceptions.open_exception(
        ExceptionKind.EXCHANGE_CANCELLED,
        cause_key=f"exchange_cancelled:{posting.pk}",
        message=f"Khaos cancelled exchange order {ref or posting.associated_ref} "
        f"({posting.associated_ref}): the customer's replacement will not ship. Contact the "
        "customer and refund or re-order.",
        return_ref=ret,
        posting=posting,
        connection=ret.connection,
    )
    if created:
        timeline.record(ret, "exception_opened", f"{case.get_kind_display()} (cx)", by=by)
    return True


# --- overdue ----------------------------------------------------------------------------


def unconfirmed_cause(posting: Posting) -> str:
    return f"posting_unconfirmed:{posting.pk}"


def unflagged_overdue(now=None):
    """Outstanding postings past their deadline that have no posting_unconfirmed case yet."""
    flagged = ExceptionCase.objects.filter(
        posting=OuterRef("pk"), kind=ExceptionKind.POSTING_UNCONFIRMED
    )
    return Posting.objects.filter(
        state__in=OUTSTANDING, confirm_by__lt=now or timezone.now()
    ).exclude(Exists(flagged))


def flag_unconfirmed(now=None) -> int:
    """A posting Khaos has not confirmed by its deadline becomes posting_unconfirmed, once.
    At most BATCH a call (``flag_unconfirmed_below``); how many were opened."""
    return flag_unconfirmed_below(None, now)[0]


def flag_unconfirmed_below(before: int | None, now=None) -> tuple[int, int | None]:
    """Up to BATCH overdue postings with ids below ``before`` (any, when None), newest
    first: (cases opened, the lowest id looked at, for the next call to go on below).

    Only postings with no case of their own are looked at (a case a person closed
    stays closed). A batch is one transaction of a handful of queries: after an outage
    every waiting document is overdue at once, and case by case (nine queries each) a
    100,000-document backlog took minutes; going on below the last id, no call reads
    again the postings flagged before it.

    Their returns are locked first (the lock order) and the postings re-read under
    those locks, so a confirmation that arrived in between opens nothing. Rows another
    worker holds (a return being worked, the postings of a Khaos page being served) are
    skipped, never waited for, so this cannot deadlock with them; they are tried again
    a moment later, and any still held are left for a later run.
    """
    due = unflagged_overdue(now).order_by("-pk")
    if before is not None:
        due = due.filter(pk__lt=before)
    pks = list(due.values_list("pk", flat=True)[:BATCH])
    lowest = min(pks, default=None)
    opened = 0
    for attempt in range(SKIPPED_TRIES):
        if not pks:
            break
        if attempt:
            time.sleep(SKIPPED_WAIT)
        opened += _flag_free(pks, now)
        pks = list(unflagged_overdue(now).filter(pk__in=pks).values_list("pk", flat=True))
    return opened, lowest


def _flag_free(pks: list[int], now) -> int:
    """Flag those of these postings whose rows no other worker holds; how many."""
    with transaction.atomic():
        due = unflagged_overdue(now).filter(pk__in=pks)
        returns = lock_free_returns(due.values_list("return_ref_id", flat=True))
        free = list(
            due.filter(return_ref_id__in=list(returns))
            .select_for_update(of=("self",), no_key=True, skip_locked=True)
            .order_by("pk")
        )
        # One opened by another worker at the same moment is counted here all the same.
        return exceptions.open_many(
            ExceptionKind.POSTING_UNCONFIRMED, [_case(returns[p.return_ref_id], p) for p in free]
        )


def _case(ret: Return, posting: Posting) -> dict:
    return dict(
        cause_key=unconfirmed_cause(posting),
        message=f"{posting.get_kind_display()} {posting.associated_ref} was made ready on "
        f"{timezone.localtime(posting.ready_at):%d/%m/%Y} and Khaos has not confirmed it "
        f"(downloaded {posting.download_count} time(s)).",
        return_ref=ret,
        posting=posting,
        connection=ret.connection,
    )
