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

Finance's rules (``services.rules``) are read inside those queries: the value causes'
tolerance is the first fitting rule's, else the connection's, else the hub's. A row is
*accepted* while an Acceptance of it holds its current amount (``d_accepted``); if the
amount moves, the difference is open again. Lists and totals are of open rows unless
asked otherwise (``state``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Abs, Coalesce, TruncDate
from django.utils import timezone

from reconciliation.choices import DifferenceCause
from reconciliation.models import Acceptance, CreditNote
from reconciliation.services import rules
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
# Which rows a list or a total is of: open differences, accepted ones, or both.
OPEN, ACCEPTED, ALL = "open", "accepted", "all"
STATES = (OPEN, ACCEPTED, ALL)
SPLIT_PARTS = ("tax", "discount", "shipping", "fees", "other")


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
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
ONE_DAY = timedelta(days=1)


class PeriodInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    """A span of days in the hub's time zone: a month (``parse``) or one day (``for_day``)."""

    first: date  # the first day
    after: date  # the first day after the span

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

    @classmethod
    def for_day(cls, day: date) -> Period:
        return cls(day, day + ONE_DAY)

    @classmethod
    def parse_day(cls, text: str) -> Period:
        """A day as YYYY-MM-DD."""
        found = _DAY.fullmatch(text or "")
        try:
            if not found or int(found[1]) > 9998:
                raise ValueError
            day = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            raise PeriodInvalid(f"{text!r} is not a day as YYYY-MM-DD.") from None
        return cls.for_day(day)

    @property
    def kind(self) -> str:
        """``day``, ``month`` or (made by hand) ``span``."""
        if self.after - self.first == ONE_DAY:
            return "day"
        if self.first.day == 1 and self.after == (self.first + timedelta(days=31)).replace(day=1):
            return "month"
        return "span"

    @property
    def label(self) -> str:
        """For people: ``March 2025``, ``12 March 2025``."""
        if self.kind == "day":
            return f"{self.first.day} {self.first:%B %Y}"
        if self.kind == "month":
            return f"{self.first:%B %Y}"
        return f"{self.first.day} {self.first:%B %Y} to {self.last.day} {self.last:%B %Y}"

    @property
    def last(self) -> date:
        return self.after - ONE_DAY

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.after - self.first).days)]

    def __str__(self) -> str:
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def _at(self, day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min))

    def moments(self, name: str) -> Q:
        """A datetime column inside the period (local time)."""
        return Q(**{f"{name}__gte": self._at(self.first), f"{name}__lt": self._at(self.after)})

    def days(self, name: str) -> Q:
        return Q(**{f"{name}__gte": self.first, f"{name}__lt": self.after})


def _tolerance(cause: str, connection: str):
    """The first fitting rule's tolerance, else the connection's, else the hub's."""
    return Coalesce(
        rules.rule_value(cause, "tolerance"),
        F(f"{connection}value_tolerance"),
        Value(settings.HUB["VALUE_TOLERANCE"]),
        output_field=MONEY,
    )


def _acceptance(cause: str) -> models.QuerySet:
    """The acceptance of a cause's row that holds: of the row's amount as it is now."""
    return Acceptance.objects.filter(
        cause=cause, object_id=OuterRef("pk"), amount=OuterRef("d_amount")
    )


def _settled(ret: str):
    return F(f"{ret}refunded_amount") + F(f"{ret}store_credit_amount") + F(f"{ret}exchange_amount")


@dataclass(frozen=True)
class Source:
    """One cause: its rows as a queryset annotated with d_platform, d_currency, d_amount,
    d_at (a datetime or a date) and d_accepted, filtered by period, platform, currency and
    state; and how a row reads."""

    build: Callable[[], models.QuerySet]
    platform_path: str | None  # the column naming the platform; None: rows have none
    moment: str  # the column the period selects by
    is_date: bool = False
    related: tuple[str, ...] = field(default=())
    cause: str = ""

    def queryset(
        self,
        period: Period | None,
        platform: str | None,
        currency: str | None = None,
        *,
        state: str = ALL,
    ) -> models.QuerySet:
        if state not in STATES:
            raise ValueError(f"state {state!r} is not one of {', '.join(STATES)}")
        queryset = self.build().annotate(d_accepted=Exists(_acceptance(self.cause)))
        if period is not None:
            queryset = queryset.filter(
                period.days(self.moment) if self.is_date else period.moments(self.moment)
            )
        if platform:
            if self.platform_path is None:
                return queryset.none()
            queryset = queryset.filter(**{self.platform_path: platform})
        if currency:
            queryset = queryset.filter(d_currency=currency)
        if state != ALL:
            queryset = queryset.filter(d_accepted=state == ACCEPTED)
        return queryset

    def day(self):
        """The row's date (local), for grouping by day in SQL."""
        return F("d_at") if self.is_date else TruncDate("d_at")


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
    # The posting's own platform: a month's postings are grouped without their returns.
    return Posting.objects.filter(
        kind=PostingKind.RETURN, state__in=states, ready_at__isnull=False
    ).annotate(d_platform=F("platform"), d_currency=F("currency"))


def _posted_not_confirmed():
    return (
        _return_postings(postings.OUTSTANDING)
        # NOT EXISTS, not a LEFT JOIN … IS NULL: PostgreSQL plans the anti-join for it.
        .filter(~Exists(CreditNote.objects.filter(posting=OuterRef("pk"))))
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
        )
        .annotate(
            d_tolerance=_tolerance(DifferenceCause.REFUND_DIFFERS, "return_ref__connection__")
        )
        .exclude(d_settled=0)
        # Never a difference at 0 (no tolerance is negative): the cheap test first, so
        # the rule's subquery is only run for rows that differ at all.
        .filter(d_off__gt=0)
        .filter(d_off__gt=F("d_tolerance"))
    )


def _credit_note_differs():
    return (
        CreditNote.objects.filter(posting__isnull=False, difference__isnull=False)
        .annotate(
            # The note's copy of its posting's platform; the connection is joined for
            # its tolerance only, after the cheap tests below have kept the few that differ.
            d_platform=F("platform"),
            d_currency=F("currency"),
            d_amount=F("difference"),
            d_at=F("issued_on"),
            d_off=Abs("difference"),
        )
        .annotate(
            d_tolerance=_tolerance(
                DifferenceCause.CREDIT_NOTE_DIFFERS, "posting__return_ref__connection__"
            )
        )
        .exclude(difference=0)  # as above: the cheap test first
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


def _source(cause: str, *args, **kwargs) -> Source:
    return Source(*args, **kwargs, cause=cause)


SOURCES: dict[str, Source] = {
    DifferenceCause.REFUNDED_NOT_GRADED: _source(
        DifferenceCause.REFUNDED_NOT_GRADED,
        _refunded_not_graded,
        "connection__platform",
        "refunded_at",
        related=("connection",),
    ),
    DifferenceCause.REFUND_WITHOUT_RETURN: _source(
        DifferenceCause.REFUND_WITHOUT_RETURN,
        _refund_without_return,
        "connection__platform",
        "refunded_at",
        related=("connection",),
    ),
    DifferenceCause.POSTED_NOT_CONFIRMED: _source(
        DifferenceCause.POSTED_NOT_CONFIRMED,
        _posted_not_confirmed,
        "platform",
        "ready_at",
        related=("return_ref__connection",),
    ),
    DifferenceCause.REFUND_DIFFERS: _source(
        DifferenceCause.REFUND_DIFFERS,
        _refund_differs,
        "platform",
        "ready_at",
        related=("return_ref__connection",),
    ),
    DifferenceCause.CREDIT_NOTE_DIFFERS: _source(
        DifferenceCause.CREDIT_NOTE_DIFFERS,
        _credit_note_differs,
        "platform",
        "issued_on",
        is_date=True,
        related=("posting__return_ref__connection",),
    ),
    DifferenceCause.RAISED_BY_HAND: _source(
        DifferenceCause.RAISED_BY_HAND, _raised_by_hand, None, "issued_on", is_date=True
    ),
    DifferenceCause.STORE_CREDIT_OUTSTANDING: _source(
        DifferenceCause.STORE_CREDIT_OUTSTANDING,
        _liabilities,
        "return_ref__connection__platform",
        "d_at",
        related=("return_ref",),
    ),
    DifferenceCause.HANDLED_OUTSIDE: _source(
        DifferenceCause.HANDLED_OUTSIDE,
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
    accepted: bool = False
    accepted_by: str = ""
    accepted_note: str = ""
    # The tolerance the row was judged by (value causes only).
    tolerance: Decimal | None = None
    # A credit note's difference explained: tax, discount, shipping, fees and other.
    split: dict[str, Decimal] | None = None


def _day(value) -> date:
    return timezone.localdate(value) if isinstance(value, datetime) else value


def note_split(note: CreditNote) -> dict[str, Decimal] | None:
    """A matched credit note's difference in parts, or None when it was not split."""
    if note.difference_other is None:
        return None
    return {part: getattr(note, f"difference_{part}") or ZERO for part in SPLIT_PARTS}


def split_text(parts: dict[str, Decimal]) -> str:
    """``fees -5.00`` or ``tax -0.83, other 0.50``; what no part explains is ``other``."""
    named = [f"{part} {amount}" for part, amount in parts.items() if amount]
    return ", ".join(named) or "none"


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
        accepted=obj.d_accepted,
        accepted_by=(obj.d_accepted_by or "") if obj.d_accepted else "",
        accepted_note=(obj.d_accepted_note or "") if obj.d_accepted else "",
        tolerance=getattr(obj, "d_tolerance", None),
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
            row.split = note_split(obj)
            row.detail = (
                f"Credit note {obj.code} of {obj.gross} {obj.currency} against an expected "
                f"credit of {obj.expected_credit}."
            )
            if row.split is not None:
                row.detail += f" The difference is {split_text(row.split)}."
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
    currency: str | None = None,
    state: str = OPEN,
    after: tuple[int, int] | None = None,
    limit: int | None = None,
    today: date | None = None,
) -> list[DifferenceRow]:
    """The difference rows in keyset order (cause, then id), from ``after`` (a position
    as (cause index, id)), at most ``limit`` of them: one query per cause read.

    ``state``: ``open`` (the default: not accepted, or accepted at another amount),
    ``accepted``, or ``all``.
    """
    today = today or timezone.localdate()
    found: list[DifferenceRow] = []
    for name in _cause_list(cause):
        rank = CAUSE_ORDER.index(name)
        if after is not None and rank < after[0]:
            continue
        source = SOURCES[name]
        queryset = source.queryset(period, platform, currency, state=state)
        if state != OPEN:
            holding = _acceptance(name)
            queryset = queryset.annotate(
                d_accepted_by=Subquery(holding.values("accepted_by")[:1]),
                d_accepted_note=Subquery(holding.values("note")[:1]),
            )
        else:
            queryset = queryset.annotate(
                d_accepted_by=Value("", output_field=models.CharField()),
                d_accepted_note=Value("", output_field=models.CharField()),
            )
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


def parse_key(key: str) -> tuple[str, int]:
    """``cause:id`` as (cause, id); ValueError when it is not a difference's key."""
    name, _, pk = (key or "").partition(":")
    if name not in CAUSE_ORDER or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        raise ValueError(f"{key!r} is not a difference's key (cause:id).")
    return name, int(pk)


# Totals ------------------------------------------------------------------------------

FIGURES = ("platform_refunds", "store_credit", "expected_credit", "posted", "confirmed")


def _figures(
    period: Period, platform: str | None, currency: str | None = None
) -> dict[str, models.QuerySet]:
    def by(queryset, platform_path, currency_path, amount):
        if platform:
            queryset = queryset.filter(**{platform_path: platform})
        if currency:
            queryset = queryset.filter(**{currency_path: currency})
        return queryset.values(g_platform=F(platform_path), g_currency=F(currency_path)).annotate(
            g_count=Count("pk"), g_amount=Sum(amount)
        )

    returns = Return.objects.filter(period.moments("refunded_at"))
    ret_postings = Posting.objects.filter(kind=PostingKind.RETURN)
    return {
        "platform_refunds": by(returns, "connection__platform", "currency", "refunded_amount"),
        "store_credit": by(
            SOURCES[DifferenceCause.STORE_CREDIT_OUTSTANDING].queryset(period, None),
            "return_ref__connection__platform",
            "currency",
            "amount",
        ),
        "expected_credit": by(
            ret_postings.exclude(state__in=(PostingState.WITHDRAWN, PostingState.CANCELLED)).filter(
                period.moments("created_at")
            ),
            "platform",
            "currency",
            "expected_credit",
        ),
        "posted": by(
            ret_postings.filter(state__in=postings.SERVABLE).filter(period.moments("ready_at")),
            "platform",
            "currency",
            "expected_credit",
        ),
        "confirmed": by(
            CreditNote.objects.filter(posting__isnull=False).filter(period.days("issued_on")),
            "platform",
            "currency",
            "gross",
        ),
    }


@dataclass
class CauseTotal:
    """A cause's open differences (``count``, ``amount``) and its accepted ones."""

    cause: str
    count: int = 0
    amount: Decimal = ZERO
    accepted_count: int = 0
    accepted_amount: Decimal = ZERO


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


def totals(
    period: Period, *, platform: str | None = None, currency: str | None = None
) -> list[PeriodTotal]:
    """Per platform and currency: the period's figures and each cause's count and amount,
    open and accepted.

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

    for name, queryset in _figures(period, platform, currency).items():
        for found in queryset:
            total = group((found["g_platform"], found["g_currency"]))
            setattr(total, name, getattr(total, name) + (found["g_amount"] or ZERO))
    for name in CAUSE_ORDER:
        queryset = SOURCES[name].queryset(period, platform, currency).order_by()
        for found in queryset.values("d_platform", "d_currency", "d_accepted").annotate(
            g_count=Count("pk"), g_amount=Sum("d_amount")
        ):
            cause = group((found["d_platform"], found["d_currency"])).cause(name)
            if found["d_accepted"]:
                cause.accepted_count += found["g_count"]
                cause.accepted_amount += found["g_amount"] or ZERO
            else:
                cause.count += found["g_count"]
                cause.amount += found["g_amount"] or ZERO
    return sorted(groups.values(), key=lambda t: (t.platform is None, t.platform or "", t.currency))


# Day by day ---------------------------------------------------------------------------


@dataclass
class DayPoint:
    """One day of the period: what was tied off and what is still open, by row date.

    ``matched_*``: credit notes matched to a posting, dated that day, plus the accepted
    difference rows dated that day (``accepted_*`` is that part alone). ``open_*``: the
    open difference rows dated that day. Amounts are signed, as the rows' are.
    """

    day: date
    matched_count: int = 0
    matched_amount: Decimal = ZERO
    open_count: int = 0
    open_amount: Decimal = ZERO
    accepted_count: int = 0
    accepted_amount: Decimal = ZERO


def daily(
    period: Period, *, platform: str | None = None, currency: str | None = None
) -> list[DayPoint]:
    """One point per day of the period, grouped by day in SQL: one query for the matched
    credit notes and one per cause, whatever the period's length."""
    points = {day: DayPoint(day) for day in period.each_day()}
    matched = CreditNote.objects.filter(posting__isnull=False).filter(period.days("issued_on"))
    if platform:
        matched = matched.filter(platform=platform)
    if currency:
        matched = matched.filter(currency=currency)
    for found in (
        matched.order_by().values("issued_on").annotate(g_count=Count("pk"), g_amount=Sum("gross"))
    ):
        point = points[found["issued_on"]]
        point.matched_count += found["g_count"]
        point.matched_amount += found["g_amount"] or ZERO
    for name in CAUSE_ORDER:
        source = SOURCES[name]
        queryset = source.queryset(period, platform, currency).order_by()
        for found in queryset.values("d_accepted", d_day=source.day()).annotate(
            g_count=Count("pk"), g_amount=Sum("d_amount")
        ):
            point = points[found["d_day"]]  # the period selected the rows by this day
            amount = found["g_amount"] or ZERO
            if found["d_accepted"]:
                point.accepted_count += found["g_count"]
                point.accepted_amount += amount
                point.matched_count += found["g_count"]
                point.matched_amount += amount
            else:
                point.open_count += found["g_count"]
                point.open_amount += amount
    return list(points.values())


__all__ = [
    "ACCEPTED",
    "ALL",
    "CAUSE_ORDER",
    "OPEN",
    "OWNERS",
    "STATES",
    "CauseTotal",
    "DayPoint",
    "DifferenceCause",
    "DifferenceRow",
    "Period",
    "PeriodInvalid",
    "PeriodTotal",
    "daily",
    "parse_key",
    "position",
    "rows",
    "totals",
]
