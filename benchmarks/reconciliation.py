"""Reconciling a month with a million returns stored: the period summary, the daily chart,
and every reconciliation list, beside their goals and beside the raw aggregate query.

Run by `make bench` against its own database (HUB_DB_NAME=returns_hub_bench), after
`generate_returns --until 1000000`:

    python -m benchmarks.reconciliation             # BENCH_RECONCILIATION_RUNS=20
    python -m benchmarks.reconciliation --explain   # EXPLAIN (ANALYZE, BUFFERS) the
                                                    # summary's queries and the ceiling's

Generated returns are all made "now", graded and posted, with no refund, no credit note.
The first run gives them a year's history (their dates spread over the twelve months up
to now in id order, January busiest, each refunded at its expected credit) and then, for
the busiest month, what reconciliation finds in a real month: credit notes for most of
its postings (a few differing by some pounds), some postings with none yet, credit notes
raised by hand, platform refunds that differ, refunds for returns not yet graded or that
will never come, store credit and gift cards, exceptions ignored by finance, a finance
rule and some acceptances. The other months stay unconfirmed, as at go-live, when no
credit note export had been read yet: the lists must skip them. Each step runs once, in
one transaction (the month's credit notes mark it done).

Figures are server time, in process (time.perf_counter around the call or the test
client's request), p50 and p95 after a warm-up; a figure passes when its median is
within its goal, as the other benchmarks. The raw aggregate query, hand-written SQL
computing the same period figures in one statement, is the ceiling; its figures must
equal the summary's, so the benchmark also proves the summary right.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
if not apps.ready:
    django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection as db
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from benchmarks import profiling, report
from reconciliation.models import Acceptance, CreditNote, ReconciliationRule
from reconciliation.services import differences
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.services.differences import Period
from returns_hub.choices import (
    EXCEPTION_OWNERS,
    ExceptionKind,
    ExceptionStatus,
    LiabilityKind,
    MoneyState,
    PostingKind,
    PostingState,
    ReturnState,
)
from returns_hub.models import (
    ExceptionCase,
    KhaosChannel,
    PlatformConnection,
    Posting,
    Return,
    StoreCreditLiability,
)
from returns_hub.services import postings as posting_states

SUMMARY_GOAL_MS = 300
LIST_GOAL_MS = 100
RUNS = int(os.environ.get("BENCH_RECONCILIATION_RUNS", "20"))
WARMUP = 3
MONTHS = 12
# Returns per calendar month, relative: returns peak after Christmas.
SEASON = {1: 1.6, 2: 1.1, 3: 1.0, 4: 0.9, 5: 0.9, 6: 1.0, 7: 1.0, 8: 0.9, 9: 0.9, 10: 1.0}
SEASON |= {11: 1.2, 12: 1.3}
MATCHED_BY = "benchmarks.reconciliation"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _table(model) -> str:
    return model._meta.db_table


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _say(text: str) -> None:
    print(text, flush=True)


# The data -----------------------------------------------------------------------------


def spread(connection: PlatformConnection, *, months: int = MONTHS, now=None) -> int:
    """Give the connection's generated returns (posted, never refunded) a history: dates
    spread over the ``months`` up to ``now`` in id order, weighted by season; refunded at
    their expected credit an hour before their posting was offered to Khaos. Returns how
    many were dated (none on a second run)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    firsts = [today.replace(day=1)]
    while len(firsts) < months:
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    bounds, weights = [], []
    for first in firsts:
        lo, hi = _local_midnight(first), min(_local_midnight(_next_month(first)), now)
        span = (hi - lo) / (_local_midnight(_next_month(first)) - lo)
        bounds.append((lo, hi))
        weights.append(SEASON[first.month] * span)
    cumulative, c_lo, c_hi = 0.0, [], []
    for weight in weights:
        c_lo.append(cumulative)
        cumulative += weight / sum(weights)
        c_hi.append(cumulative)
    c_hi[-1] = 1.0  # every rank (below 1) falls in a month, whatever the rounding
    ret, posting, channel = _table(Return), _table(Posting), _table(KhaosChannel)
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_dated")
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_dated ON COMMIT DROP AS
            WITH todo AS (
                SELECT r.id, (row_number() OVER (ORDER BY r.id) - 1)::float8
                             / count(*) OVER () AS u
                FROM {ret} r
                WHERE r.connection_id = %(connection)s AND r.refunded_at IS NULL
                  AND r.money_state = %(posted)s
                  AND EXISTS (
                      SELECT 1 FROM {posting} p
                      WHERE p.return_ref_id = r.id AND p.kind = %(kind)s
                        AND p.ready_at IS NOT NULL AND p.state = ANY(%(outstanding)s))
            ), months AS (
                SELECT * FROM unnest(
                    %(lo)s::timestamptz[], %(hi)s::timestamptz[],
                    %(c_lo)s::float8[], %(c_hi)s::float8[]) AS m(lo, hi, c_lo, c_hi)
            )
            SELECT t.id, m.lo + (m.hi - m.lo) * ((t.u - m.c_lo) / (m.c_hi - m.c_lo)) AS at
            FROM todo t JOIN months m ON t.u >= m.c_lo AND t.u < m.c_hi
            """,
            {
                "connection": connection.pk,
                "posted": MoneyState.POSTED,
                "kind": PostingKind.RETURN,
                "outstanding": [str(s) for s in posting_states.OUTSTANDING],
                "lo": [lo for lo, _ in bounds],
                "hi": [hi for _, hi in bounds],
                "c_lo": c_lo,
                "c_hi": c_hi,
            },
        )
        dated = cursor.rowcount
        if dated <= 0:
            return 0
        cursor.execute("ANALYZE bench_dated")
        cursor.execute(
            f"""
            UPDATE {ret} r SET platform_created_at = d.at - interval '6 days',
                created_at = d.at - interval '5 days', updated_at = d.at,
                refunded_at = d.at - interval '1 hour', refunded_amount = p.expected_credit
            FROM bench_dated d JOIN {posting} p ON p.return_ref_id = d.id AND p.kind = %s
            WHERE r.id = d.id
            """,
            [PostingKind.RETURN],
        )
        cursor.execute(
            f"""
            UPDATE {posting} p SET created_at = d.at - interval '2 hours', ready_at = d.at,
                confirm_by = d.at + make_interval(days => ch.confirmation_days)
            FROM bench_dated d, {channel} ch
            WHERE p.return_ref_id = d.id AND p.kind = %s AND ch.id = p.channel_id
            """,
            [PostingKind.RETURN],
        )
        cursor.execute("DROP TABLE bench_dated")
    return dated


def busiest_month() -> Period | None:
    """The month (local time) in which most return postings were offered to Khaos."""
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT to_char(date_trunc('month', ready_at AT TIME ZONE %s), 'YYYY-MM'), count(*)
            FROM {_table(Posting)} WHERE kind = %s AND ready_at IS NOT NULL
            GROUP BY 1 ORDER BY 2 DESC, 1 DESC LIMIT 1
            """,
            [settings.TIME_ZONE, PostingKind.RETURN],
        )
        found = cursor.fetchone()
    return Period.parse(found[0]) if found else None


def _code(period: Period) -> str:
    return f"RCB{period.first:%Y%m}"


def seeded(period: Period) -> bool:
    return CreditNote.objects.filter(code__startswith=_code(period)).exists()


def _fate(i: int) -> str:
    """What happens to the month's i-th posting (in id order)."""
    r = i % 100
    if r in (3, 41, 67, 88, 95, 99):
        return "unconfirmed"  # 6%: Khaos has not raised it yet
    if r in (11, 57):
        return "differs"  # 2%: the credit note is off by a few pounds
    return "matched"


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


def seed(period: Period, connection: PlatformConnection, other: PlatformConnection) -> dict:
    """What reconciliation finds in a real month, for ``period``'s return postings: made
    once (the month's credit notes mark it done), in one transaction, in bulk."""
    if seeded(period):
        return {}
    code, now = _code(period), timezone.now()
    lo, hi = _local_midnight(period.first), _local_midnight(period.after)
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    counts: dict[str, int] = {}
    with transaction.atomic():
        month = list(
            Posting.objects.filter(
                kind=PostingKind.RETURN,
                state__in=posting_states.OUTSTANDING,
                ready_at__gte=lo,
                ready_at__lt=hi,
                credit_note__isnull=True,
            )
            .order_by("pk")
            .values_list(
                "pk",
                "return_ref_id",
                "associated_ref",
                "expected_credit",
                "currency",
                "ready_at",
                "platform",
            )
        )
        notes, liabilities, cases, refund_off = [], [], [], []
        accepted: list[tuple] = []  # (cause, the note or the posting id, amount, note)
        for i, (pk, return_id, ref, expected, currency, ready_at, platform) in enumerate(month):
            day = timezone.localdate(ready_at) + timedelta(days=i % 3)
            fate = _fate(i)
            finance_accepts = (i // 100) % 2 == 0  # every other hundred
            if i % 100 == 41 and finance_accepts:
                accepted.append(
                    (C.POSTED_NOT_CONFIRMED, pk, expected, "Raised in Khaos under another ref")
                )
            if fate != "unconfirmed":
                gross = expected
                if fate == "differs":
                    gross = max(ZERO, expected + (Decimal(1 + i % 5) if i % 2 else Decimal(-3)))
                net = _money(gross / Decimal("1.2"))
                notes.append(
                    CreditNote(
                        code=f"{code}{i:07d}",
                        return_code=f"SR{period.first:%y%m}{i:07d}",
                        associated_ref=ref,
                        issued_on=day,
                        net=net,
                        tax=gross - net,
                        gross=gross,
                        currency=currency,
                        posting_id=pk,
                        platform=platform,  # as matching._tie copies it
                        match_method="associated_ref",
                        matched_by=MATCHED_BY,
                        matched_at=now,
                        expected_credit=expected,
                        difference=gross - expected,
                        difference_other=(gross - expected) or None,
                    )
                )
            if i % 100 == 7:  # the platform refunded more than the posted credit
                refund_off.append((return_id, expected + Decimal(1 + i % 5)))
                if finance_accepts:
                    accepted.append((C.REFUND_DIFFERS, pk, Decimal(1 + i % 5), "Goodwill"))
            elif i % 100 == 13 and expected > 3:  # or less
                refund_off.append((return_id, expected - Decimal(2)))
            elif i % 100 == 20:  # part paid as store credit or a gift card
                amount = min(expected, Decimal("10.00"))
                liabilities.append(
                    StoreCreditLiability(
                        return_ref_id=return_id,
                        kind=LiabilityKind.GIFT_CARD
                        if i % 200 == 20
                        else LiabilityKind.STORE_CREDIT,
                        reference=f"{code}-SC-{i:07d}",
                        amount=amount,
                        currency=currency,
                        issued_at=ready_at - timedelta(hours=1),
                    )
                )
            if i % 500 == 25:  # a value mismatch finance ignored: refunded outside the hub
                kind = (
                    ExceptionKind.VALUE_MISMATCH
                    if i % 1000 == 25
                    else ExceptionKind.SETTLEMENT_MISSING
                )
                cases.append(
                    ExceptionCase(
                        kind=kind,
                        owner=EXCEPTION_OWNERS[kind],
                        status=ExceptionStatus.IGNORED,
                        cause_key=f"{code}:ignored:{i}",
                        return_ref_id=return_id,
                        connection_id=connection.pk,
                        message="Settled outside the hub",
                        resolution="Refunded by bank transfer, outside the hub",
                        resolved_by=admin,
                        resolved_at=ready_at + timedelta(hours=2),
                    )
                )
        total = len(month)
        hand = max(1, total // 200)
        seconds = int((hi - lo).total_seconds())
        for j in range(hand):  # raised by hand in Khaos: no AssociatedRef
            gross = _money(Decimal(5 + (j * 37) % 80) + Decimal(j % 100) / 100)
            net = _money(gross / Decimal("1.2"))
            notes.append(
                CreditNote(
                    code=f"{code}H{j:06d}",
                    return_code=f"SRH{period.first:%y%m}{j:06d}",
                    associated_ref="",
                    issued_on=timezone.localdate(lo + timedelta(seconds=seconds * j // hand)),
                    net=net,
                    tax=gross - net,
                    gross=gross,
                    currency="GBP",
                    unmatched_reason="No Associated Ref: raised by hand in Khaos.",
                )
            )
        CreditNote.objects.bulk_create(notes, batch_size=5000)
        accepted += [
            (C.CREDIT_NOTE_DIFFERS, note, note.difference, "Khaos rounding")
            for note in notes[::3]
            if note.difference
        ]
        # Finance's rule: Rebound's credit notes within a pound of the expected credit agree.
        ReconciliationRule.objects.get_or_create(
            name=f"{MATCHED_BY}: {connection.platform} within a pound",
            defaults={
                "cause": C.CREDIT_NOTE_DIFFERS,
                "platform": connection.platform,
                "currency": "GBP",
                "tolerance": Decimal("1.00"),
            },
        )
        Acceptance.objects.bulk_create(
            [
                Acceptance(
                    cause=cause,
                    object_id=row if isinstance(row, int) else row.pk,
                    platform=connection.platform,
                    currency="GBP",
                    amount=amount,
                    accepted_by="finance",
                    accepted_at=now,
                    note=why,
                )
                for cause, row, amount, why in accepted
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        StoreCreditLiability.objects.bulk_create(liabilities, batch_size=5000)
        ExceptionCase.objects.bulk_create(cases, batch_size=5000)
        counts |= {"credit notes": len(notes), "by hand": hand, "liabilities": len(liabilities)}
        counts |= {"ignored exceptions": len(cases), "refunds differing": len(refund_off)}
        counts |= {"acceptances": len(accepted)}

        # Refunds the platform paid for returns the hub has not graded (timing), and for
        # returns that will never come (cancelled after the refund).
        waiting, never = max(1, total // 100), max(1, total // 1000)
        fresh = []
        for k in range(waiting + never):
            external = f"RB{period.first:%Y%m}-{k:06d}"
            fresh.append(
                Return(
                    connection=other,
                    external_id=external,
                    associated_ref=f"{other.spec.ref_prefix}-{external}"[:50],
                    order_ref=str(900000 + k),
                    customer_email=f"bench{k}@example.com",
                    customer_name="Benchmark Customer",
                    currency="GBP",
                    state=(
                        (ReturnState.CANCELLED if k % 2 else ReturnState.EXPIRED)
                        if k >= waiting
                        else (ReturnState.IN_TRANSIT if k % 3 else ReturnState.RECEIVED)
                    ),
                    money_state=MoneyState.REFUNDED,
                    refunded_amount=_money(Decimal(12 + (k * 13) % 90) + Decimal(k % 100) / 100),
                    refunded_at=lo + timedelta(seconds=seconds * k // (waiting + never)),
                )
            )
        Return.objects.bulk_create(fresh, batch_size=5000)
        counts |= {"refunded, not graded": waiting, "refunded, will not come": never}

        ret, posting, note = _table(Return), _table(Posting), _table(CreditNote)
        liability = _table(StoreCreditLiability)
        with db.cursor() as cursor:
            cursor.execute(  # when the hub first saw them (auto_now_add stamped "now")
                f"UPDATE {ret} SET created_at = refunded_at - interval '3 days', "
                "platform_created_at = refunded_at - interval '4 days' WHERE id = ANY(%s)",
                [[r.pk for r in fresh]],
            )
            cursor.execute(
                f"""
                UPDATE {posting} p SET state = %s, confirmation_ref = n.code,
                    confirmed_at = (n.issued_on + time '15:00') AT TIME ZONE %s
                FROM {note} n WHERE n.posting_id = p.id AND n.code LIKE %s
                """,
                [PostingState.CONFIRMED, settings.TIME_ZONE, f"{code}%"],
            )
            cursor.execute(
                f"""
                UPDATE {ret} r SET money_state = %s FROM {posting} p, {note} n
                WHERE p.return_ref_id = r.id AND n.posting_id = p.id AND n.code LIKE %s
                """,
                [MoneyState.CONFIRMED, f"{code}%"],
            )
            cursor.execute(
                f"""
                UPDATE {ret} r SET refunded_amount = o.amount
                FROM unnest(%s::bigint[], %s::numeric[]) AS o(id, amount) WHERE r.id = o.id
                """,
                [[r for r, _ in refund_off], [a for _, a in refund_off]],
            )
            cursor.execute(
                f"""
                UPDATE {ret} r SET store_credit_amount = l.amount,
                    refunded_amount = r.refunded_amount - l.amount
                FROM {liability} l WHERE l.return_ref_id = r.id AND l.reference LIKE %s
                """,
                [f"{code}-SC-%"],
            )
    counts["postings in the month"] = total
    return counts


def vacuum() -> None:
    """Fresh statistics and visibility maps after writing in bulk (autovacuum would, later)."""
    if db.in_atomic_block:
        return  # inside a test's transaction: ANALYZE is enough there
    with db.cursor() as cursor:
        for model in (Return, Posting, CreditNote, StoreCreditLiability, ExceptionCase):
            cursor.execute(f"VACUUM (ANALYZE) {_table(model)}")


def build(
    connection: PlatformConnection | None = None,
    other: PlatformConnection | None = None,
    *,
    months: int = MONTHS,
    now=None,
    period: Period | None = None,
) -> Period:
    """The bench data, made once: a history for the generated returns, then the busiest
    month's reconciliation. Returns the month to measure."""
    connection = connection or PlatformConnection.objects.get(slug="demo-rebound")
    other = other or (
        PlatformConnection.objects.exclude(pk=connection.pk).order_by("slug").first() or connection
    )
    started = time.perf_counter()
    dated = spread(connection, months=months, now=now)
    if dated:
        _say(f"gave {dated:,} generated returns a history over {months} months")
    period = period or busiest_month()
    if period is None:
        raise SystemExit("no return postings: run generate_returns first")
    counts = seed(period, connection, other)
    if counts:
        _say(f"{period}: made " + ", ".join(f"{n:,} {what}" for what, n in counts.items()))
    if dated or counts:
        vacuum()
        _say(f"(data made in {time.perf_counter() - started:.0f}s, once)")
    return period


# The ceiling: the period's figures in one statement ---------------------------------------

CAUSES = [str(cause) for cause in differences.CAUSE_ORDER]
FIGURES = ("platform_refunds", "store_credit", "expected_credit", "posted", "confirmed")
# Each cause: its open rows' count and amount, and its accepted rows' (an Acceptance of
# the row's current amount holds).
PARTS = ("count", "amount", "accepted_count", "accepted_amount")
_CELLS = [*FIGURES, *(f"{cause}_{part}" for cause in CAUSES for part in PARTS)]


def _cause_cells(cause: str, where: str, amount: str, accepted: str) -> dict[str, str]:
    """A cause's four cells, summed over a branch's groups: ``where`` and ``accepted`` are
    the groups' flags, ``amount`` their sum, ``rows`` their count."""
    is_open, is_accepted = f"{where} AND NOT {accepted}", f"{where} AND {accepted}"
    return {
        f"{cause}_count": f"sum(rows) FILTER (WHERE {is_open})",
        f"{cause}_amount": f"sum({amount}) FILTER (WHERE {is_open})",
        f"{cause}_accepted_count": f"sum(rows) FILTER (WHERE {is_accepted})",
        f"{cause}_accepted_amount": f"sum({amount}) FILTER (WHERE {is_accepted})",
    }


def _ceiling_sql() -> str:
    """One statement. Each branch reads one table's rows of the period by its date column,
    through the index on it, once, and groups them by platform (a posting's and a matched
    credit note's own; a return's by its connection), currency and which figures and causes
    a row counts in (one bit each, in one key, so the groups are few and hashed): a count
    and a sum or two per group. Only what needs a return's amounts joins it: refund_differs
    (each posting of the month). A value difference's tolerance (the first fitting rule's,
    else the connection's, else the hub's) is read for the rows that differ at all, as the
    summary does; the connection's platform per group (a few dozen)."""
    ret, posting, note = _table(Return), _table(Posting), _table(CreditNote)
    conn, liability = _table(PlatformConnection), _table(StoreCreditLiability)
    case, acceptance, rule = _table(ExceptionCase), _table(Acceptance), _table(ReconciliationRule)

    def branch(connection: str, currency: str, keys: dict, sums: dict, rest: str, **later):
        """``keys``: the rows' flags (booleans), grouped on as one bit mask; ``later``:
        ``platform``, the rows' own platform (else the connection's), and ``cells``."""
        cells, own = later["cells"], later.get("platform")
        bits = " | ".join(
            f"(coalesce({expr}, false)::int << {n})" for n, expr in enumerate(keys.values())
        )
        totals = "".join(f", sum({expr}) AS {name}" for name, expr in sums.items())
        inner = (
            f"SELECT {own or 'NULL::varchar'} AS own_platform, {connection} AS connection_id,"
            f" {currency} AS currency, {bits or '0'} AS bits, count(*) AS rows{totals}"
            f" {rest} GROUP BY 1, 2, 3, 4"
        )
        platform = "g.own_platform" if own else "c.platform"
        flags = "".join(f", g.bits & {1 << n} <> 0 AS {name}" for n, name in enumerate(keys))
        middle = (
            f"SELECT {platform} AS platform, g.*{flags} FROM ({inner}) AS g"
            f" LEFT JOIN {conn} c ON c.id = g.connection_id"
        )
        values = ", ".join(f"{cells.get(cell, 'NULL::numeric')} AS {cell}" for cell in _CELLS)
        return f"SELECT platform, currency, {values} FROM ({middle}) AS m GROUP BY 1, 2"

    def held(alias: str, cause: str, pk: str, amount: str) -> str:
        """A join to the cause's acceptance of the row: it holds at the row's amount."""
        return (
            f" LEFT JOIN {acceptance} {alias} ON {alias}.cause = '{cause}'"
            f" AND {alias}.object_id = {pk} AND {alias}.amount = {amount}"
        )

    def beyond(cause: str, off: str, platform: str, currency: str, of_connection: str) -> str:
        """A row's value difference (NULL: none) is not 0 and larger than the first fitting
        rule's tolerance, else its connection's (``of_connection``), else the hub's; the
        tolerance is looked up only for a row that differs at all."""
        first_rule = (
            f"(SELECT ru.tolerance FROM {rule} ru WHERE ru.active AND ru.cause = '{cause}'"
            f" AND (ru.platform = '' OR ru.platform = {platform})"
            f" AND (ru.currency = '' OR ru.currency = {currency})"
            " ORDER BY ru.sequence, ru.id LIMIT 1)"
        )
        connection = f"(SELECT c.value_tolerance {of_connection})"
        tolerance = f"coalesce({first_rule}, {connection}, %(tolerance)s)"
        return f"CASE WHEN {off} <> 0 THEN abs({off}) > {tolerance} END"

    settled = "(r.refunded_amount + r.store_credit_amount + r.exchange_amount)"
    served = "p.state = ANY(%(servable)s)"
    off = f"CASE WHEN {served} AND {settled} <> 0 THEN {settled} - p.expected_credit END"
    waiting = "r.money_state = %(refunded)s AND r.state <> ALL(%(not_coming)s)"
    never = "r.state = ANY(%(not_coming)s) AND r.refunded_amount > 0"
    moment = "coalesce(l.issued_at, r.refunded_at, r.created_at)"
    handled = f"coalesce({settled}, 0)"
    note_off = "CASE WHEN n.posting_id IS NOT NULL THEN n.difference END"
    parts = [
        branch(  # platform money, by the refund date
            "r.connection_id",
            "r.currency",
            {
                "waiting": f"{waiting} AND NOT EXISTS (SELECT 1 FROM {posting} q"
                " WHERE q.return_ref_id = r.id AND q.kind = %(return)s)",
                "never": never,
                "waiting_held": "a1.id IS NOT NULL",
                "never_held": "a2.id IS NOT NULL",
            },
            {"refunded": "r.refunded_amount"},
            f"FROM {ret} r"
            + held("a1", C.REFUNDED_NOT_GRADED, "r.id", "r.refunded_amount")
            + held("a2", C.REFUND_WITHOUT_RETURN, "r.id", "r.refunded_amount")
            + " WHERE r.refunded_at >= %(lo)s AND r.refunded_at < %(hi)s",
            cells={
                "platform_refunds": "sum(refunded)",
                **_cause_cells(C.REFUNDED_NOT_GRADED, "waiting", "refunded", "waiting_held"),
                **_cause_cells(C.REFUND_WITHOUT_RETURN, "never", "refunded", "never_held"),
            },
        ),
        branch(  # return postings, by when they were offered to Khaos; the return for what
            # the platform settled (refund_differs)
            "NULL::bigint",
            "p.currency",
            {
                "served": served,
                "unconfirmed": "p.state = ANY(%(outstanding)s) AND n.id IS NULL",
                "unconfirmed_held": "a1.id IS NOT NULL",
                "differs": beyond(
                    C.REFUND_DIFFERS,
                    f"({off})",
                    "p.platform",
                    "p.currency",
                    f"FROM {conn} c WHERE c.id = r.connection_id",
                ),
                "off_held": "a2.id IS NOT NULL",
            },
            {"expected": "p.expected_credit", "off": off},
            f"FROM {posting} p JOIN {ret} r ON r.id = p.return_ref_id"
            f" LEFT JOIN {note} n ON n.posting_id = p.id"
            + held("a1", C.POSTED_NOT_CONFIRMED, "p.id", "p.expected_credit")
            + held("a2", C.REFUND_DIFFERS, "p.id", f"({off})")
            + " WHERE p.kind = %(return)s AND p.ready_at >= %(lo)s AND p.ready_at < %(hi)s",
            platform="p.platform",
            cells={
                "posted": "sum(expected) FILTER (WHERE served)",
                **_cause_cells(
                    C.POSTED_NOT_CONFIRMED, "unconfirmed", "expected", "unconfirmed_held"
                ),
                **_cause_cells(C.REFUND_DIFFERS, "differs", "off", "off_held"),
            },
        ),
        branch(  # return postings, by when they were made: the posting alone
            "NULL::bigint",
            "p.currency",
            {},
            {"expected": "p.expected_credit"},
            f"FROM {posting} p"
            " WHERE p.kind = %(return)s AND p.created_at >= %(lo)s AND p.created_at < %(hi)s"
            " AND p.state <> ALL(%(gone)s)",
            platform="p.platform",
            cells={"expected_credit": "sum(expected)"},
        ),
        branch(  # credit notes, by their date: the note alone (a differing one's
            # connection for its tolerance)
            "NULL::bigint",
            "n.currency",
            {
                "matched": "n.posting_id IS NOT NULL",
                "differs": beyond(
                    C.CREDIT_NOTE_DIFFERS,
                    f"({note_off})",
                    "n.platform",
                    "n.currency",
                    f"FROM {posting} p JOIN {ret} r ON r.id = p.return_ref_id"
                    f" JOIN {conn} c ON c.id = r.connection_id WHERE p.id = n.posting_id",
                ),
                "off_held": "a1.id IS NOT NULL",
                "by_hand_held": "a2.id IS NOT NULL",
            },
            {"gross": "n.gross", "off": note_off},
            f"FROM {note} n"
            + held("a1", C.CREDIT_NOTE_DIFFERS, "n.id", "n.difference")
            + held("a2", C.RAISED_BY_HAND, "n.id", "n.gross")
            + " WHERE n.issued_on >= %(first)s AND n.issued_on < %(after)s",
            platform="nullif(n.platform, '')",  # raised by hand: no platform
            cells={
                "confirmed": "sum(gross) FILTER (WHERE matched)",
                **_cause_cells(C.CREDIT_NOTE_DIFFERS, "differs", "off", "off_held"),
                **_cause_cells(C.RAISED_BY_HAND, "NOT matched", "gross", "by_hand_held"),
            },
        ),
        branch(  # store credit and gift cards, by their issue date
            "r.connection_id",
            "l.currency",
            {"held": "a1.id IS NOT NULL"},
            {"amount": "l.amount"},
            f"FROM {liability} l JOIN {ret} r ON r.id = l.return_ref_id"
            + held("a1", C.STORE_CREDIT_OUTSTANDING, "l.id", "l.amount")
            + f" WHERE {moment} >= %(lo)s AND {moment} < %(hi)s",
            cells={
                "store_credit": "sum(amount)",
                **_cause_cells(C.STORE_CREDIT_OUTSTANDING, "true", "amount", "held"),
            },
        ),
        branch(  # exceptions ignored, by when
            "coalesce(r.connection_id, e.connection_id)",
            "coalesce(r.currency, '')",
            {"held": "a1.id IS NOT NULL"},
            {"amount": handled},
            f"FROM {case} e LEFT JOIN {ret} r ON r.id = e.return_ref_id"
            + held("a1", C.HANDLED_OUTSIDE, "e.id", handled)
            + " WHERE e.status = %(ignored)s AND e.resolved_at >= %(lo)s"
            " AND e.resolved_at < %(hi)s",
            cells=_cause_cells(C.HANDLED_OUTSIDE, "true", "amount", "held"),
        ),
    ]
    sums = ", ".join(f"sum({cell}) AS {cell}" for cell in _CELLS)
    union = "\nUNION ALL\n".join(f"({part})" for part in parts)
    return f"SELECT platform, currency, {sums} FROM (\n{union}\n) AS figures GROUP BY 1, 2"


def ceiling(period: Period) -> dict[tuple, dict]:
    """The period's figures and each cause's counts and amounts, open and accepted, per
    platform and currency, by hand-written SQL in one statement."""
    params = {
        "lo": _local_midnight(period.first),
        "hi": _local_midnight(period.after),
        "first": period.first,
        "after": period.after,
        "tolerance": settings.HUB["VALUE_TOLERANCE"],
        "refunded": str(MoneyState.REFUNDED),
        "not_coming": [str(state) for state in differences.NOT_COMING],
        "return": str(PostingKind.RETURN),
        "outstanding": [str(state) for state in posting_states.OUTSTANDING],
        "servable": [str(state) for state in posting_states.SERVABLE],
        "gone": [str(PostingState.WITHDRAWN), str(PostingState.CANCELLED)],
        "ignored": str(ExceptionStatus.IGNORED),
    }
    with db.cursor() as cursor:
        cursor.execute(_ceiling_sql(), params)
        found = cursor.fetchall()
    figures = {}
    for platform, currency, *cells in found:
        values = {cell: value for cell, value in zip(_CELLS, cells, strict=True)}
        figures[(platform, currency)] = {
            cell: (int(value or 0) if cell.endswith("_count") else (value or ZERO))
            for cell, value in values.items()
        }
    return _without_empty(figures)


def summary_figures(totals) -> dict[tuple, dict]:
    """``differences.totals``'s answer in the ceiling's shape."""
    figures = {}
    for total in totals:
        cells = {name: getattr(total, name) for name in FIGURES}
        for cause in CAUSES:
            found = total.cause(cause)
            cells[f"{cause}_count"], cells[f"{cause}_amount"] = found.count, found.amount
            # (before acceptances, every row was open)
            cells[f"{cause}_accepted_count"] = getattr(found, "accepted_count", 0)
            cells[f"{cause}_accepted_amount"] = getattr(found, "accepted_amount", ZERO)
        figures[(total.platform, total.currency)] = cells
    return _without_empty(figures)


def _without_empty(figures: dict[tuple, dict]) -> dict[tuple, dict]:
    return {key: cells for key, cells in figures.items() if any(cells.values())}


def check(period: Period) -> dict[tuple, dict]:
    """The summary and the ceiling agree, to the penny; their figures."""
    summary = summary_figures(differences.totals(period))
    raw = ceiling(period)
    if summary != raw:
        lines = []
        for key in sorted(set(summary) | set(raw), key=str):
            mine, theirs = raw.get(key, {}), summary.get(key, {})
            for cell in _CELLS:
                if mine.get(cell) != theirs.get(cell):
                    lines.append(
                        f"  {key} {cell}: raw SQL {mine.get(cell)}, summary {theirs.get(cell)}"
                    )
        raise AssertionError("the summary and the raw query differ:\n" + "\n".join(lines))
    return summary


# Measuring ----------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    goal_ms: float | None
    timings: list[float]
    note: str = ""
    profile: str = ""  # where one more run spends its time, when the figure missed

    @property
    def p50(self) -> float:
        return statistics.median(self.timings) if self.timings else float("nan")

    @property
    def p95(self) -> float:
        ordered = sorted(self.timings)
        return ordered[max(0, round(len(ordered) * 0.95) - 1)] if ordered else float("nan")

    @property
    def passed(self) -> bool:
        if not self.timings:
            return False
        return self.goal_ms is None or self.p50 <= self.goal_ms

    def line(self) -> str:
        goal = f"<= {self.goal_ms:.0f} ms" if self.goal_ms is not None else "(ceiling)"
        verdict = "" if self.goal_ms is None else ("PASS" if self.passed else "MISS")
        note = f"  {self.note}" if self.note else ""
        return (
            f"{self.name:<72} p50 {self.p50:7.1f} ms  p95 {self.p95:7.1f} ms  "
            f"{goal:<10} {verdict}{note}"
        )


class NotBuilt(Exception):
    pass


def timed(call: Callable[[], object], runs: int = RUNS, warmup: int = WARMUP) -> list[float]:
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _deep_position(period: Period, cause: str) -> tuple[tuple[int, int] | None, int]:
    """A keyset position nine tenths into the cause's rows in the period, and how many."""
    sources = getattr(differences, "SOURCES", None)
    if not sources or cause not in sources:
        return None, 0
    keys = sources[cause].queryset(period, None).order_by("pk").values_list("pk", flat=True)
    count = keys.count()
    if count < 2:
        return None, count
    return (differences.CAUSE_ORDER.index(cause), keys[count * 9 // 10 - 1]), count


def _cursor(queryset, column: str) -> str | None:
    """The /finance/ lists' keyset cursor (``<value>~<id>``) nine tenths into the rows."""
    count = queryset.count()
    if count < 2:
        return None
    value, pk = queryset.order_by(column, "pk").values_list(column, "pk")[count * 9 // 10 - 1]
    return f"&after={quote(value.isoformat())}~{pk}"


def _screen_lists(period: Period) -> list[tuple[str, str | None]]:
    """The /finance/ lists of the period, each with a deep page's cursor."""
    lo, hi = _local_midnight(period.first), _local_midnight(period.after)
    returns = Return.objects.filter(refunded_at__gte=lo, refunded_at__lt=hi)
    ret_postings = Posting.objects.filter(kind=PostingKind.RETURN)
    posted = ret_postings.filter(
        state__in=posting_states.SERVABLE, ready_at__gte=lo, ready_at__lt=hi
    )
    made = ret_postings.exclude(state__in=(PostingState.WITHDRAWN, PostingState.CANCELLED))
    made = made.filter(created_at__gte=lo, created_at__lt=hi)
    notes = CreditNote.objects.filter(issued_on__gte=period.first, issued_on__lt=period.after)
    return [
        (f"/finance/credit-notes/?period={period}", _cursor(notes, "issued_on")),
        (f"/finance/returns/?period={period}", _cursor(returns, "refunded_at")),
        (f"/finance/postings/?period={period}", _cursor(posted, "ready_at")),
        (
            f"/finance/postings/?period={period}&figure=expected_credit",
            _cursor(made, "created_at"),
        ),
    ]


def _client() -> Client:
    users = get_user_model()
    user = users.objects.filter(username="bench-reconciliation").first()
    if user is None:
        user = users.objects.create_superuser("bench-reconciliation", "bench@example.com", None)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _get(client: Client, url: str) -> Callable[[], object]:
    def call():
        response = client.get(url)
        if response.status_code == 404:
            raise NotBuilt(url)
        if response.status_code != 200:
            raise AssertionError(f"{url} answered {response.status_code}")
        return response

    return call


def recorder(figures: list[Figure], *, runs: int, warmup: int, out):
    """``record(name, goal, call, note="")``: time ``call`` into ``figures`` and print it; a
    missed figure carries its profile, a failing call is a miss (the others still run), a
    page not built yet (NotBuilt) is left out. Returns the figure, or None when left out."""

    def record(name, goal, call, note=""):
        try:
            figure = Figure(name, goal, timed(call, runs, warmup), note)
            figure.profile = profiling.if_missed(not figure.passed, call)
        except NotBuilt as missing:
            out(f"{name:<72} not yet built ({missing} answers 404): skipped")
            return None
        except Exception as error:  # a page that fails is a miss, and the others still run
            figure = Figure(name, goal, [], f"ERROR {type(error).__name__}: {error}")
        figures.append(figure)
        out(figure.line())
        return figure

    return record


def measure(period: Period, *, runs: int = RUNS, warmup: int = WARMUP, out=_say) -> list[Figure]:
    """Every figure, printed as it is measured."""
    figures: list[Figure] = []

    record = recorder(figures, runs=runs, warmup=warmup, out=out)

    record(
        "period summary: differences.totals", SUMMARY_GOAL_MS, lambda: differences.totals(period)
    )
    record("raw aggregate query, one statement (the ceiling)", None, lambda: ceiling(period))
    if hasattr(differences, "daily"):
        record("daily chart: differences.daily", SUMMARY_GOAL_MS, lambda: differences.daily(period))
    else:
        out(f"{'daily chart: differences.daily':<72} not yet built: skipped")
    client = _client()
    record(
        f"GET /api/v1/reconciliation/periods/{period}/",
        SUMMARY_GOAL_MS,
        _get(client, f"/api/v1/reconciliation/periods/{period}/"),
    )
    record(
        "rows(period, limit=50): the first page",
        LIST_GOAL_MS,
        lambda: differences.rows(period, limit=50),
    )
    deep_api = None
    for cause in CAUSES:
        after, count = _deep_position(period, cause)
        record(
            f"rows: {cause}, first page",
            LIST_GOAL_MS,
            lambda cause=cause: differences.rows(period, cause=cause, limit=50),
            f"({count:,} rows)",
        )
        if after is not None:
            record(
                f"rows: {cause}, page at row {count * 9 // 10:,}",
                LIST_GOAL_MS,
                lambda cause=cause, after=after: differences.rows(
                    period, cause=cause, after=after, limit=50
                ),
            )
            if deep_api is None or count > deep_api[1]:
                deep_api = (after, count)
    api = f"/api/v1/reconciliation/differences/?period={period}"
    record(f"GET {api}", LIST_GOAL_MS, _get(client, api))
    for query in ("&state=all", "&platform=rebound", "&cause=posted_not_confirmed"):
        record(f"GET {api}{query}", LIST_GOAL_MS, _get(client, api + query))
    if deep_api is not None:
        (rank, pk), count = deep_api
        cursor = b64encode(f"{rank}:{pk}".encode()).decode("ascii")
        record(
            f"GET …/differences/?period={period}&cursor=… ({CAUSES[rank]}, 9/10 in)",
            LIST_GOAL_MS,
            _get(client, f"{api}&cursor={cursor}"),
        )
    deep = f"&after={CAUSES[deep_api[0][0]]}:{deep_api[0][1]}" if deep_api else None
    lists = _screen_lists(period)
    for url, after in (
        (f"/finance/differences/?period={period}", deep),
        *lists,
    ):
        record(f"GET {url}", LIST_GOAL_MS, _get(client, url))
        if url.startswith("/finance/differences/"):
            for query in ("&state=all", "&currency=GBP&owner=finance"):
                record(f"GET {url}{query}", LIST_GOAL_MS, _get(client, url + query))
        if after:
            record(f"GET {url}&after=… (9/10 in)", LIST_GOAL_MS, _get(client, url + after))
    day = period.first.replace(day=15)
    for url in (
        f"/finance/periods/{period}/",
        # The period page's chart, which htmx loads beside the figures.
        f"/finance/periods/{period}/chart/?currency=GBP",
        f"/finance/days/{day:%Y-%m-%d}/",
    ):
        record(f"GET {url}", SUMMARY_GOAL_MS, _get(client, url))
    return figures


def explain(period: Period) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every statement of the summary and the ceiling."""
    seen = []

    def keep(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with db.execute_wrapper(keep):
        differences.totals(period)
        ceiling(period)
    with db.cursor() as cursor:
        for sql, params in seen:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            print("\n".join(line for (line,) in cursor.fetchall()), end="\n\n")


def main(argv: list[str]) -> int:
    period = build(
        period=Period.parse(os.environ["BENCH_PERIOD"]) if os.environ.get("BENCH_PERIOD") else None
    )
    stored = Return.objects.count()
    postings = Posting.objects.filter(
        kind=PostingKind.RETURN,
        ready_at__gte=_local_midnight(period.first),
        ready_at__lt=_local_midnight(period.after),
    ).count()
    _say(
        f"{stored:,} returns stored; the busiest month is {period}: "
        f"{postings:,} return postings offered to Khaos"
    )
    if "--explain" in argv:
        explain(period)
        return 0
    figures = check(period)
    for (platform, currency), cells in sorted(figures.items(), key=lambda item: str(item[0])):
        causes = ", ".join(
            f"{cause} {cells[f'{cause}_count']:,}" for cause in CAUSES if cells[f"{cause}_count"]
        )
        _say(
            f"  {platform or '(no platform)'} {currency}: refunds {cells['platform_refunds']}, "
            f"posted {cells['posted']}, confirmed {cells['confirmed']}; "
            f"{causes or 'no differences'}"
        )
    _say("the summary's figures equal the raw query's, to the penny")
    _say(f"{RUNS} runs each after {WARMUP} to warm up; a figure passes on its median")
    # A screen that fails is reported on its line, not with its traceback; static files
    # as in development (make run collects them for the manifest; the bench does not).
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        results = measure(period)
    report.context(
        "reconciliation",
        f"{stored:,} returns stored; the busiest month {period}: {postings:,} return postings "
        f"offered to Khaos; the summary's figures equal the raw query's, to the penny",
    )
    report.context(
        "reconciliation",
        f"{RUNS} runs each after {WARMUP} to warm up; server time, "
        "in process; a figure passes on its median",
    )
    report.record_figures("reconciliation", results)
    missed = [figure.name for figure in results if not figure.passed]
    if missed:
        _say("MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
