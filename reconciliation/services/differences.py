"""Reconciliation for a period: the totals, and every difference with its cause and owner.

Read only. Each row is dated by the date that matters for it, and the period
(``YYYY-MM``, in the hub's time zone) selects rows by that date:

- platform money (``refunded_not_graded``, ``refund_without_return``): the refund date;
- credit notes (``raised_by_hand``, ``credit_note_differs``): the credit note's date;
- postings (``posted_not_confirmed``, ``refund_differs``): the date it was offered to
  Khaos (``ready_at``);
- store credit and gift cards: the liability's issue date (else the return's refund
  date, else when the hub first saw the return);
- ``handled_outside``: the date the exception was ignored.

Each cause is one query (a queryset annotated with its platform, currency, amount and
date), so a page of rows or a period's totals costs a fixed number of queries whatever
the number of rows. Amounts are Decimals summed by the database: they foot to the penny.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.functions import Abs, Coalesce
from django.utils import timezone

from reconciliation.choices import DifferenceCause
from reconciliation.models import CreditNote
from returns_hub.choices import (
    ExceptionStatus,
    MoneyState,
    PostingKind,
    PostingState,
    ReturnState,
    Team,
)
from returns_hub.models import ExceptionCase, Posting, Return, StoreCreditLiability
from returns_hub.services import postings

MONEY = models.DecimalField(max_digits=14, decimal_places=2)
ZERO = Decimal("0.00")
NOT_COMING = (ReturnState.CANCELLED, ReturnState.EXPIRED)


CAUSE_ORDER = list(DifferenceCause)
# The owner of each cause; handled_outside belongs to the team that owned the exception.
OWNERS: dict[str, str | None] = {
    DifferenceCause.REFUNDED_NOT_GRADED: Team.WAREHOUSE,
    DifferenceCause.REFUND_WITHOUT_RETURN: Team.FINANCE,
    DifferenceCause.POSTED_NOT_CONFIRMED: Team.FINANCE,
    DifferenceCause.REFUND_DIFFERS: Team.FINANCE,
    DifferenceCause.CREDIT_NOTE_DIFFERS: Team.FINANCE,
    DifferenceCause.RAISED_BY_HAND: Team.FINANCE,
    DifferenceCause.STORE_CREDIT_OUTSTANDING: Team.FINANCE,
    DifferenceCause.HANDLED_OUTSIDE: None,
}

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class PeriodInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    first: date  # the first day
    after: date  # the first day of the next month

    @classmethod
    def parse(cls, text: str) -> Period:
        found = _PERIOD.fullmatch(text or "")
        if not found:
            raise PeriodInvalid(f"{text!r} is not a month as YYYY-MM.")
        year, month = int(found[1]), int(found[2])
        if not (1 <= month <= 12 and 1 <= year <= 9998):
            raise PeriodInvalid(f"{text!r} is not a month as YYYY-MM.")
        first = date(year, month, 1)
        return cls(first, (first + timedelta(days=31)).replace(day=1))

    def __str__(self) -> str:
        return f"{self.first:%Y-%m}"

    def _at(self, day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min))

    def moments(self, name: str) -> Q:
        """A datetime column inside the period (local time)."""
        return Q(**{f"{name}__gte": self._at(self.first), f"{name}__lt": self._at(self.after)})

    def days(self, name: str) -> Q:
        return Q(**{f"{name}__gte": self.first, f"{name}__lt": self.after})


def _tolerance(connection: str):
    return Coalesce(
        F(f"{connection}value_tolerance"),
        Value(settings.HUB["VALUE_TOLERANCE"]),
        output_field=MONEY,
    )


def _settled(ret: str):
    return F(f"{ret}refunded_amount") + F(f"{ret}store_credit_amount") + F(f"{ret}exchange_amount")


@dataclass(frozen=True)
class Source:
    """One cause: its rows as a queryset annotated with d_platform, d_currency, d_amount and
    d_at (a datetime or a date), filtered by period and platform; and how a row reads."""

    build: Callable[[Period | None], models.QuerySet]
    platform_path: str | None  # the column naming the platform; None: rows have none
    moment: str  # the column the period selects by
    is_date: bool = False
    related: tuple[str, ...] = field(default=())

    def queryset(self, period: Period | None, platform: str | None) -> models.QuerySet:
        queryset = self.build()
        if period is not None:
            queryset = queryset.filter(
                period.days(self.moment) if self.is_date else period.moments(self.moment)
            )
        if platform:
            if self.platform_path is None:
                return queryset.none()
            queryset = queryset.filter(**{self.platform_path: platform})
        return queryset


def _refunded_not_graded():
    has_posting = Posting.objects.filter(return_ref=OuterRef("pk"), kind=PostingKind.RETURN)
    return (
        Return.objects.filter(money_state=MoneyState.REFUNDED, refunded_at__isnull=False)
        .exclude(state__in=NOT_COMING)
        .exclude(Exists(has_posting))
        .annotate(
            d_platform=F("connection__platform"),
            d_currency=F("currency"),
            d_amount=F("refunded_amount"),
            d_at=F("refunded_at"),
        )
    )


def _refund_without_return():
    return Return.objects.filter(
        state__in=NOT_COMING, refunded_at__isnull=False, refunded_amount__gt=0
    ).annotate(
        d_platform=F("connection__platform"),
        d_currency=F("currency"),
        d_amount=F("refunded_amount"),
        d_at=F("refunded_at"),
    )


def _return_postings(states):
    return Posting.objects.filter(
        kind=PostingKind.RETURN, state__in=states, ready_at__isnull=False
    ).annotate(d_platform=F("return_ref__connection__platform"), d_currency=F("currency"))


def _posted_not_confirmed():
    return (
        _return_postings(postings.OUTSTANDING)
        .filter(credit_note__isnull=True)
        .annotate(d_amount=F("expected_credit"), d_at=F("ready_at"))
    )


def _refund_differs():
    return (
        _return_postings(postings.SERVABLE)
        .annotate(
            d_settled=_settled("return_ref__"),
            d_amount=F("d_settled") - F("expected_credit"),
            d_at=F("ready_at"),
            d_off=Abs(F("d_settled") - F("expected_credit")),
            d_tolerance=_tolerance("return_ref__connection__"),
        )
        .exclude(d_settled=0)
        .filter(d_off__gt=F("d_tolerance"))
    )


def _credit_note_differs():
    return (
        CreditNote.objects.filter(posting__isnull=False, difference__isnull=False)
        .annotate(
            d_platform=F("posting__return_ref__connection__platform"),
            d_currency=F("currency"),
            d_amount=F("difference"),
            d_at=F("issued_on"),
            d_off=Abs("difference"),
            d_tolerance=_tolerance("posting__return_ref__connection__"),
        )
        .filter(d_off__gt=F("d_tolerance"))
    )


def _raised_by_hand():
    return CreditNote.objects.filter(posting__isnull=True).annotate(
        d_platform=Value(None, output_field=models.CharField()),
        d_currency=F("currency"),
        d_amount=F("gross"),
        d_at=F("issued_on"),
    )


def _liabilities():
    return StoreCreditLiability.objects.annotate(
        d_platform=F("return_ref__connection__platform"),
        d_currency=F("currency"),
        d_amount=F("amount"),
        d_at=Coalesce("issued_at", "return_ref__refunded_at", "return_ref__created_at"),
    )


def _handled_outside():
    return ExceptionCase.objects.filter(
        status=ExceptionStatus.IGNORED, resolved_at__isnull=False
    ).annotate(
        d_platform=Coalesce("return_ref__connection__platform", "connection__platform"),
        d_currency=Coalesce("return_ref__currency", Value("")),
        d_amount=Coalesce(_settled("return_ref__"), Value(ZERO), output_field=MONEY),
        d_at=F("resolved_at"),
    )


SOURCES: dict[str, Source] = {
    DifferenceCause.REFUNDED_NOT_GRADED: Source(
        _refunded_not_graded, "connection__platform", "refunded_at", related=("connection",)
    ),
    DifferenceCause.REFUND_WITHOUT_RETURN: Source(
        _refund_without_return, "connection__platform", "refunded_at", related=("connection",)
    ),
    DifferenceCause.POSTED_NOT_CONFIRMED: Source(
        _posted_not_confirmed,
        "return_ref__connection__platform",
        "ready_at",
        related=("return_ref__connection",),
    ),
    DifferenceCause.REFUND_DIFFERS: Source(
        _refund_differs,
        "return_ref__connection__platform",
        "ready_at",
        related=("return_ref__connection",),
    ),
    DifferenceCause.CREDIT_NOTE_DIFFERS: Source(
        _credit_note_differs,
        "posting__return_ref__connection__platform",
        "issued_on",
        is_date=True,
        related=("posting__return_ref__connection",),
    ),
    DifferenceCause.RAISED_BY_HAND: Source(_raised_by_hand, None, "issued_on", is_date=True),
    DifferenceCause.STORE_CREDIT_OUTSTANDING: Source(
        _liabilities, "return_ref__connection__platform", "d_at", related=("return_ref",)
    ),
    DifferenceCause.HANDLED_OUTSIDE: Source(
        _handled_outside,
        "d_platform",
        "resolved_at",
        related=("return_ref", "resolved_by"),
    ),
}


@dataclass
class DifferenceRow:
    key: str
    cause: str
    owner: str
    platform: str | None
    currency: str
    amount: Decimal
    on: date
    age_days: int
    return_id: int | None = None
    associated_ref: str = ""
    posting_id: int | None = None
    credit_note: str | None = None
    exception_id: int | None = None
    expected_credit: Decimal | None = None
    settled: Decimal | None = None
    detail: str = ""


def _day(value) -> date:
    return timezone.localdate(value) if isinstance(value, datetime) else value


def _row(cause: str, obj, today: date) -> DifferenceRow:
    on = _day(obj.d_at)
    row = DifferenceRow(
        key=f"{cause}:{obj.pk}",
        cause=cause,
        owner=OWNERS[cause] or "",
        platform=obj.d_platform,
        currency=obj.d_currency,
        amount=obj.d_amount,
        on=on,
        age_days=max((today - on).days, 0),
    )
    if isinstance(obj, Return):
        row.return_id, row.associated_ref = obj.pk, obj.associated_ref
        row.settled = obj.refunded_amount + obj.store_credit_amount + obj.exchange_amount
        row.detail = (
            f"Refunded {obj.refunded_amount} {obj.currency}; the return is {obj.state} "
            "and nothing is posted."
        )
    elif isinstance(obj, Posting):
        ret = obj.return_ref
        row.return_id, row.associated_ref, row.posting_id = ret.pk, obj.associated_ref, obj.pk
        row.expected_credit = obj.expected_credit
        row.settled = ret.refunded_amount + ret.store_credit_amount + ret.exchange_amount
        if cause == DifferenceCause.REFUND_DIFFERS:
            row.detail = (
                f"The platform settled {row.settled} {obj.currency}; Khaos was sent a credit "
                f"of {obj.expected_credit}."
            )
        else:
            row.detail = f"Posting {obj.state}; Khaos has sent no credit note for it."
    elif isinstance(obj, CreditNote):
        row.credit_note, row.associated_ref = obj.code, obj.associated_ref
        row.expected_credit = obj.expected_credit
        if obj.posting_id is not None:
            row.posting_id, row.return_id = obj.posting_id, obj.posting.return_ref_id
            row.detail = (
                f"Credit note {obj.code} of {obj.gross} {obj.currency} against an expected "
                f"credit of {obj.expected_credit}."
            )
        else:
            row.detail = obj.unmatched_reason or "Matches no hub posting."
    elif isinstance(obj, StoreCreditLiability):
        row.return_id, row.associated_ref = obj.return_ref_id, obj.return_ref.associated_ref
        row.detail = f"{obj.get_kind_display()} {obj.reference}."
    elif isinstance(obj, ExceptionCase):
        row.owner = obj.owner
        row.exception_id = obj.pk
        if obj.return_ref is not None:
            row.return_id, row.associated_ref = obj.return_ref_id, obj.return_ref.associated_ref
        who = obj.resolved_by.get_username() if obj.resolved_by else "someone"
        why = obj.resolution or "no note"
        row.detail = f"{obj.get_kind_display()} ignored by {who}: {why}"
    return row


def _cause_list(cause: str | None) -> list[str]:
    return [cause] if cause else list(CAUSE_ORDER)


def rows(
    period: Period | None = None,
    *,
    cause: str | None = None,
    platform: str | None = None,
    after: tuple[int, int] | None = None,
    limit: int | None = None,
    today: date | None = None,
) -> list[DifferenceRow]:
    """The difference rows in keyset order (cause, then id), from ``after`` (a position
    as (cause index, id)), at most ``limit`` of them: one query per cause read."""
    today = today or timezone.localdate()
    found: list[DifferenceRow] = []
    for name in _cause_list(cause):
        rank = CAUSE_ORDER.index(name)
        if after is not None and rank < after[0]:
            continue
        source = SOURCES[name]
        queryset = source.queryset(period, platform)
        if source.related:
            queryset = queryset.select_related(*source.related)
        if after is not None and rank == after[0]:
            queryset = queryset.filter(pk__gt=after[1])
        queryset = queryset.order_by("pk")
        if limit is not None:
            queryset = queryset[: limit - len(found)]
        found.extend(_row(name, obj, today) for obj in queryset)
        if limit is not None and len(found) >= limit:
            break
    return found


def position(row: DifferenceRow) -> tuple[int, int]:
    name, pk = row.key.split(":")
    return CAUSE_ORDER.index(name), int(pk)


# Totals ------------------------------------------------------------------------------

FIGURES = ("platform_refunds", "store_credit", "expected_credit", "posted", "confirmed")


def _figures(period: Period, platform: str | None) -> dict[str, models.QuerySet]:
    def by(queryset, platform_path, currency, amount):
        if platform:
            queryset = queryset.filter(**{platform_path: platform})
        return queryset.values(g_platform=F(platform_path), g_currency=F(currency)).annotate(
            g_count=Count("pk"), g_amount=Sum(amount)
        )

    returns = Return.objects.filter(period.moments("refunded_at"))
    ret_postings = Posting.objects.filter(kind=PostingKind.RETURN)
    platform_of_posting = "return_ref__connection__platform"
    return {
        "platform_refunds": by(returns, "connection__platform", "currency", "refunded_amount"),
        "store_credit": by(
            SOURCES[DifferenceCause.STORE_CREDIT_OUTSTANDING].queryset(period, None),
            platform_of_posting,
            "currency",
            "amount",
        ),
        "expected_credit": by(
            ret_postings.exclude(state__in=(PostingState.WITHDRAWN, PostingState.CANCELLED)).filter(
                period.moments("created_at")
            ),
            platform_of_posting,
            "currency",
            "expected_credit",
        ),
        "posted": by(
            ret_postings.filter(state__in=postings.SERVABLE).filter(period.moments("ready_at")),
            platform_of_posting,
            "currency",
            "expected_credit",
        ),
        "confirmed": by(
            CreditNote.objects.filter(posting__isnull=False).filter(period.days("issued_on")),
            "posting__return_ref__connection__platform",
            "currency",
            "gross",
        ),
    }


@dataclass
class CauseTotal:
    cause: str
    count: int = 0
    amount: Decimal = ZERO


@dataclass
class PeriodTotal:
    platform: str | None
    currency: str
    platform_refunds: Decimal = ZERO
    store_credit: Decimal = ZERO
    expected_credit: Decimal = ZERO
    posted: Decimal = ZERO
    confirmed: Decimal = ZERO
    causes: list[CauseTotal] = field(default_factory=list)

    def cause(self, name: str) -> CauseTotal:
        return next(total for total in self.causes if total.cause == name)


def totals(period: Period, *, platform: str | None = None) -> list[PeriodTotal]:
    """Per platform and currency: the period's figures and each cause's count and amount.

    A credit note raised by hand has no platform: its group's platform is None.
    One query per figure and per cause.
    """
    groups: dict[tuple, PeriodTotal] = {}

    def group(key: tuple) -> PeriodTotal:
        if key not in groups:
            groups[key] = PeriodTotal(
                platform=key[0],
                currency=key[1],
                causes=[CauseTotal(name) for name in CAUSE_ORDER],
            )
        return groups[key]

    for name, queryset in _figures(period, platform).items():
        for found in queryset:
            total = group((found["g_platform"], found["g_currency"]))
            setattr(total, name, getattr(total, name) + (found["g_amount"] or ZERO))
    for name in CAUSE_ORDER:
        queryset = SOURCES[name].queryset(period, platform).order_by()
        for found in queryset.values("d_platform", "d_currency").annotate(
            g_count=Count("pk"), g_amount=Sum("d_amount")
        ):
            cause = group((found["d_platform"], found["d_currency"])).cause(name)
            cause.count += found["g_count"]
            cause.amount += found["g_amount"] or ZERO
    return sorted(groups.values(), key=lambda t: (t.platform is None, t.platform or "", t.currency))


__all__ = [
    "CAUSE_ORDER",
    "OWNERS",
    "DifferenceCause",
    "DifferenceRow",
    "Period",
    "PeriodInvalid",
    "PeriodTotal",
    "position",
    "rows",
    "totals",
]
