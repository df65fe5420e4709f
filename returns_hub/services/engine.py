"""The engine: given a return as the hub now knows it, decide what Khaos is told.

``evaluate`` is called after every event and whenever a cause of an exception
may have gone (a mapping row, the product master, an approval, a deadline).
It is idempotent: run twice on the same facts it changes nothing the second
time. The caller holds the return's row lock (``locks.lock_return``).

``diagnose`` is the policy, and writes nothing: what is wrong with the return
(each a ``Problem`` naming the document it holds), whether its document is
due, and which exchanges can be ordered. ``evaluate`` then writes, through
the lifecycles' own modules: exceptions (``exceptions``), postings
(``postings``), exchanges (``exchanges``). The rule it keeps: nothing is held
in silence. Every held posting has an open exception saying why, and every
open exception still holds something or states something still true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from returns_hub import documents
from returns_hub.choices import (
    ExceptionKind,
    ExceptionStatus,
    ExchangeState,
    MoneyState,
    PostingPolicy,
    PostingState,
    ReturnState,
    UnitState,
)
from returns_hub.models import ExceptionCase, Posting, Return, ReturnUnit
from returns_hub.services import (
    exceptions,
    exchanges,
    khaos_documents,
    postings,
    resolution,
    timeline,
    value,
)
from returns_hub.services.resolution import Problem
from returns_hub.services.timeline import By
from returns_hub.state_machine import RETURN_TRANSITIONS, move_return, physical_state

K = ExceptionKind
# Exceptions the engine opens and closes itself as their causes come and go.
ENGINE_KINDS = frozenset(
    {
        K.UNKNOWN_SKU,
        K.INACTIVE_SKU,
        K.UNMAPPED_REASON,
        K.UNMAPPED_DISPOSITION,
        K.MISSING_SOURCE_ORDER,
        K.UNKNOWN_CUSTOMER,
        K.INCOMPLETE_ADDRESS,
        K.VALUE_MISMATCH,
        K.EXCHANGE_UNAVAILABLE,
        K.CHANNEL_INCOMPLETE,
        K.SETTLEMENT_MISSING,
        K.UNITS_NOT_ARRIVED,
    }
)
# Open cases whose message is brought up to date when what is missing changes.
REFRESHED = frozenset({K.INCOMPLETE_ADDRESS})
# True statements that hold no document: the return posts regardless.
STATEMENTS = frozenset({K.UNITS_NOT_ARRIVED})
FINISHED = frozenset({ReturnState.CANCELLED, ReturnState.EXPIRED})
ARRIVING = (UnitState.EXPECTED, UnitState.IN_TRANSIT)


def holds_return(problem: Problem) -> bool:
    """Does this problem hold the return's own document (not an exchange's)?"""
    return problem.exchange is None and problem.kind not in STATEMENTS


@dataclass
class Diagnosis:
    problems: list[Problem] = field(default_factory=list)
    due: bool = False  # the return's document should be made now (held or ready)
    urn: str | None = None
    placeable: list[exchanges.Placeable] = field(default_factory=list)
    party: khaos_documents.InvoiceParty | None = None  # the invoice address and contact
    waiting_until: datetime | None = None  # inside the settlement wait
    # Resolution that changed, to be stored: unit id → product, unit id → (reason, site).
    products: dict[int, object] = field(default_factory=dict)
    reasons: dict[int, tuple[object, int | None]] = field(default_factory=dict)


def evaluate(ret: Return, *, by: By = timeline.TASK, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if ret.state in FINISHED:
        _wind_down(ret, by)
        return
    live = [u for u in _units(ret) if u.state != UnitState.CANCELLED]
    _sync_physical_state(ret, live, by)
    posting = postings.return_posting(ret)
    channel = ret.connection.khaos_channel
    found = diagnose(ret, live, posting=posting, now=now)
    _write_resolution(live, found)
    _sync_exceptions(ret, found.problems, by)
    if found.due and posting is None:
        posting = postings.hold_return(ret, channel, by)
    if posting is not None and posting.state == PostingState.HELD:
        if found.due:
            _hold_or_post(ret, live, posting, channel, found, by)
        else:  # a unit appeared that still needs its grade: not due, nothing to hold
            postings.unmake(posting, why="the return is not due any more", by=by)
    _exchanges(ret, channel, found, by)


def _units(ret: Return) -> list[ReturnUnit]:
    return list(ret.units.select_related("product", "khaos_return_reason").order_by("id"))


def _sync_physical_state(ret: Return, live: list[ReturnUnit], by: By) -> None:
    target = physical_state([u.state for u in live]) if live else ret.state
    if target != ret.state and target in RETURN_TRANSITIONS[ret.state]:
        move_return(ret, "state", target, cause=by.cause, actor=by.actor, delivery=by.delivery)


# --- the policy (reads only) ------------------------------------------------------------


def diagnose(
    ret: Return,
    live: list[ReturnUnit],
    *,
    posting: Posting | None = None,
    now: datetime | None = None,
) -> Diagnosis:
    """What holds the return and its exchanges, and what is due. Writes nothing."""
    now = now or timezone.now()
    found = Diagnosis()
    channel = ret.connection.khaos_channel
    open_document = posting is None or posting.state == PostingState.HELD
    if live and open_document:
        found.problems += _resolve_products(ret, live, found)
        found.problems += _resolve_reasons(ret, live, found)
        _due(ret, live, found, now)
    if found.due:
        found.problems += _document_problems(ret, live, channel, found)
    exchange_problems, found.placeable = exchanges.diagnose(ret, channel)
    found.problems += exchange_problems
    if found.placeable and found.urn is None:
        urn = resolution.resolve_urn(ret, channel)
        if isinstance(urn, Problem):
            found.problems += [_held_exchange(urn, item.exchange) for item in found.placeable]
            found.placeable = []
        else:
            found.urn = urn
    if found.placeable:
        party = found.party or resolution.resolve_invoice(ret, urn=found.urn)
        if isinstance(party, Problem):
            found.problems += [_held_exchange(party, item.exchange) for item in found.placeable]
            found.placeable = []
        else:
            found.party = party
    found.problems += _units_not_arrived(ret, live, now)
    return found


def _held_exchange(problem: Problem, exchange) -> Problem:
    """The same cause, holding one exchange's order: its own case, ignored on its own."""
    return Problem(
        problem.kind,
        f"{problem.cause}:exchange:{exchange.pk}",
        f"Exchange order for {exchange.platform_sku} is held: {problem.message}",
        exchange=exchange,
        details={**problem.details, "exchange_id": exchange.pk},
    )


def _due(ret: Return, live: list[ReturnUnit], found: Diagnosis, now: datetime) -> None:
    policy = ret.connection.posting_policy
    refunded = ret.refunded_at is not None or ret.store_credit_amount > 0
    if policy == PostingPolicy.ON_REFUND_UNPROCESSED:
        found.due = refunded
        return
    if all(u.state == UnitState.NOT_RETURNED for u in live):
        found.due = refunded  # keep item, donate: post at refund, expect no goods
        return
    if not all(u.state in (UnitState.GRADED, UnitState.NOT_RETURNED) for u in live):
        return  # not every unit has its final grade yet
    wait = value.awaiting_settlement(ret, live, now)
    if isinstance(wait, value.SettlementWait):
        found.waiting_until = wait.until
        return
    found.due = True
    if isinstance(wait, Problem):
        found.problems.append(wait)


def _document_problems(ret, live, channel, found: Diagnosis) -> list[Problem]:
    problems = []
    if channel is None:
        problems.append(
            Problem(
                K.CHANNEL_INCOMPLETE,
                "channel",
                f"{ret.connection} has no Khaos channel, so nothing can be posted; set one with "
                f"set_connection {ret.connection.platform} {ret.connection.slug} --channel SLUG.",
                details={"missing": ["a Khaos channel"]},
            )
        )
    urn = resolution.resolve_urn(ret, channel)
    if isinstance(urn, Problem):
        problems.append(urn)
    else:
        found.urn = urn
    party = resolution.resolve_invoice(ret, urn=found.urn)
    if isinstance(party, Problem):
        problems.append(party)
    else:
        found.party = party
    order = resolution.resolve_source_order(ret)
    if isinstance(order, Problem):
        problems.append(order)
    mismatch = value.mismatch(ret, live)
    if mismatch is not None:
        problems.append(mismatch)
    return problems


def _resolve_products(ret: Return, live: list[ReturnUnit], found: Diagnosis) -> list[Problem]:
    problems = []
    known: dict[tuple[str, str], object] = {}  # units of the same SKU resolve once
    for unit in live:
        key = (unit.platform_sku, unit.barcode)
        if key not in known:
            known[key] = resolution.resolve_unit_product(ret, unit)
        result = known[key]
        if isinstance(result, Problem):
            problems.append(
                Problem(
                    result.kind, result.cause, result.message, unit=unit, details=result.details
                )
            )
        product = None if isinstance(result, Problem) else result
        if unit.product_id != (product.pk if product else None):
            found.products[unit.pk] = product
    return problems


def _reason_for(ret: Return, unit: ReturnUnit):
    if unit.state == UnitState.NOT_RETURNED:
        return resolution.resolve_by_disposition(ret, unit)
    if ret.connection.posting_policy == PostingPolicy.ON_REFUND_UNPROCESSED:
        return resolution.resolve_by_reason(ret, unit)
    if unit.state == UnitState.GRADED:
        return resolution.resolve_by_disposition(ret, unit)
    return None  # not graded yet: its reason comes with its grade


def _resolve_reasons(ret: Return, live: list[ReturnUnit], found: Diagnosis) -> list[Problem]:
    """Reasons and sites, checked as soon as they are known so a team can fix them early."""
    problems = []
    known: dict[tuple[str, str, str, str], object] = {}  # the same answer for the same codes
    for unit in live:
        key = (unit.state, unit.outcome, unit.disposition, unit.reason)
        if key not in known:
            known[key] = _reason_for(ret, unit)
        result = known[key]
        reason, site = None, None
        if isinstance(result, Problem):
            problems.append(result)
        elif result is not None:
            reason, site = result.reason, result.site_id
        if (unit.khaos_return_reason_id, unit.site_id) != (reason.pk if reason else None, site):
            found.reasons[unit.pk] = (reason, site)
    return problems


def _units_not_arrived(ret: Return, live: list[ReturnUnit], now: datetime) -> list[Problem]:
    """Refunded before inspection, and the goods are still not here after the limit."""
    if ret.refunded_at is None:
        return []
    days = ret.connection.units_not_arrived_days
    if now - ret.refunded_at < timedelta(days=days):
        return []
    missing = [u for u in live if u.state in ARRIVING]
    if not missing:
        return []
    listed = ", ".join(f"{u.external_id} ({u.platform_sku or u.barcode})" for u in missing[:10])
    return [
        Problem(
            K.UNITS_NOT_ARRIVED,
            "arrival",
            f"Refunded on {timezone.localtime(ret.refunded_at):%d/%m/%Y} and "
            f"{len(missing)} unit(s) have not arrived after {days} days: {listed}.",
            details={"units": [u.external_id for u in missing], "days": days},
        )
    ]


# --- writes -----------------------------------------------------------------------------


def _write_resolution(live: list[ReturnUnit], found: Diagnosis) -> None:
    """Store each unit's resolved product, reason and site: one update per distinct value."""
    by_product: dict[object, list[int]] = {}
    by_reason: dict[tuple[object, int | None], list[int]] = {}
    for unit in live:
        if unit.pk in found.products:
            unit.product = found.products[unit.pk]
            by_product.setdefault(unit.product, []).append(unit.pk)
        if unit.pk in found.reasons:
            unit.khaos_return_reason, unit.site_id = found.reasons[unit.pk]
            by_reason.setdefault(found.reasons[unit.pk], []).append(unit.pk)
    for product, ids in by_product.items():
        ReturnUnit.objects.filter(pk__in=ids).update(product=product)
    for (reason, site_id), ids in by_reason.items():
        ReturnUnit.objects.filter(pk__in=ids).update(khaos_return_reason=reason, site_id=site_id)


def _sync_exceptions(ret: Return, problems: list[Problem], by: By) -> None:
    """Open an exception per problem, close those whose cause has gone."""
    current = {p.cause_key(ret): p for p in problems}
    for key, problem in current.items():
        case, created = exceptions.open_exception(
            problem.kind,
            cause_key=key,
            message=problem.message,
            recurrence=False,
            reopen_resolved=True,
            return_ref=ret,
            unit=problem.unit,
            connection=ret.connection,
            delivery=by.delivery,
            details=problem.details,
        )
        if not created and case is not None and problem.kind in REFRESHED:
            _refresh(case, problem)
        if created:
            timeline.record(
                ret,
                "exception_opened",
                f"{case.get_kind_display()} ({case.owner}): {problem.message}",
                by=by,
                unit=problem.unit,
            )
    stale = list(
        ret.exceptions.filter(status=ExceptionStatus.OPEN, kind__in=ENGINE_KINDS).exclude(
            cause_key__in=current
        )
    )
    for case in stale:
        timeline.record(
            ret,
            "exception_resolved",
            f"{case.get_kind_display()} resolved: its cause has gone",
            by=by,
        )
    if stale:
        exceptions.close(ExceptionCase.objects.filter(pk__in=[c.pk for c in stale]))


def _refresh(case: ExceptionCase, problem: Problem) -> None:
    """An open case whose message says what is missing follows what still is."""
    if (case.message, case.details) != (problem.message, problem.details):
        ExceptionCase.objects.filter(pk=case.pk, status=ExceptionStatus.OPEN).update(
            message=problem.message, details=problem.details, updated_at=timezone.now()
        )


def _hold_or_post(ret, live, posting: Posting, channel, found: Diagnosis, by: By) -> None:
    holding = [p.cause_key(ret) for p in found.problems if holds_return(p)]
    if holding:
        ExceptionCase.objects.filter(
            cause_key__in=holding, status=ExceptionStatus.OPEN, posting__isnull=True
        ).update(posting=posting)
        return
    document = khaos_documents.customer_return(
        ret,
        urn=found.urn,
        lines=_return_lines(ret, live),
        process=posting.process_return,
        channel=channel,
        party=found.party,
    )
    postings.make_ready(
        posting,
        channel=channel,
        document=documents.dumps(document),
        expected=value.expected_credit(ret, live),
        by=by,
    )


def _return_lines(ret: Return, live: list[ReturnUnit]) -> list[khaos_documents.ReturnLine]:
    return [
        khaos_documents.ReturnLine(
            stock_code=unit.product.stock_code,
            reason_id=unit.khaos_return_reason_id,
            # No platform price: no UnitPrice, Khaos prices the line from the source order.
            unit_price=unit.expected_credit if unit.price_known else None,
            source_order=ret.order_ref,
        )
        for unit in live
    ]


def _exchanges(ret: Return, channel, found: Diagnosis, by: By) -> None:
    """Order what can be ordered; an exchange that cannot waits, with its open case saying why."""
    unavailable = [p.exchange for p in found.problems if p.kind == K.EXCHANGE_UNAVAILABLE]
    exchanges.mark_unavailable(unavailable)
    for item in found.placeable:
        exchanges.place(ret, item, channel, found.urn, by)


def _wind_down(ret: Return, by: By) -> None:
    """Cancelled or expired: nothing posts, unserved postings are withdrawn, causes closed."""
    reason = f"the return is {ret.state}"
    # Served ones too: Khaos has them, and the timeline says so once.
    for posting in ret.postings.filter(state__in=(*postings.WITHDRAWABLE, PostingState.DOWNLOADED)):
        if postings.withdraw(posting, reason=reason, by=by) and posting.exchange_id:
            ret.exchanges.filter(pk=posting.exchange_id).update(state=ExchangeState.CLOSED)
    for exchange in exchanges.waiting(ret):
        exchanges.close_for_good(exchange, reason, by)
    exceptions.close(
        ret.exceptions.filter(kind__in=ENGINE_KINDS), f"Closed: {reason}; nothing will post."
    )
    if ret.money_state == MoneyState.PENDING:
        move_return(ret, "money_state", MoneyState.NONE, cause=by.cause, actor=by.actor)
