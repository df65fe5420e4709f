"""The engine: given a return as the hub now knows it, decide what Khaos is told.

``evaluate`` is called after every event and whenever a cause of an exception
may have gone (a mapping row, the product master, an approval). It is
idempotent: run twice on the same facts it changes nothing the second time.
The caller holds the return's row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from returns_hub import documents
from returns_hub.choices import (
    Cause,
    ExceptionKind,
    ExceptionStatus,
    ExchangeState,
    MoneyState,
    PostingKind,
    PostingPolicy,
    PostingState,
    ReturnState,
    UnitState,
)
from returns_hub.models import (
    ExceptionCase,
    ExchangeRequest,
    KhaosProduct,
    Posting,
    Return,
    ReturnUnit,
    StockLevel,
)
from returns_hub.money import total
from returns_hub.services import khaos_documents, resolution, timeline
from returns_hub.services.exceptions import open_exception
from returns_hub.services.resolution import Problem
from returns_hub.state_machine import RETURN_TRANSITIONS, move_return, physical_state

logger = logging.getLogger(__name__)

# Exceptions the engine opens and closes itself as their causes come and go.
ENGINE_KINDS = frozenset(
    {
        ExceptionKind.UNKNOWN_SKU,
        ExceptionKind.INACTIVE_SKU,
        ExceptionKind.UNMAPPED_REASON,
        ExceptionKind.UNMAPPED_DISPOSITION,
        ExceptionKind.MISSING_SOURCE_ORDER,
        ExceptionKind.UNKNOWN_CUSTOMER,
        ExceptionKind.VALUE_MISMATCH,
        ExceptionKind.EXCHANGE_UNAVAILABLE,
    }
)
# An unavailable exchange does not hold the return's own posting.
NON_BLOCKING = frozenset({ExceptionKind.EXCHANGE_UNAVAILABLE})
FINISHED = frozenset({ReturnState.CANCELLED, ReturnState.EXPIRED})


@dataclass
class Context:
    cause: Cause
    actor: object = None
    delivery: object = None


def evaluate(ret: Return, *, cause: Cause = Cause.TASK, actor=None, delivery=None) -> None:
    ctx = Context(cause, actor, delivery)
    if ret.state in FINISHED:
        _wind_down(ret, ctx)
        return
    units = list(ret.units.select_related("product", "khaos_return_reason").order_by("id"))
    live = [u for u in units if u.state != UnitState.CANCELLED]
    _sync_physical_state(ret, live, ctx)

    problems: list[Problem] = []
    problems += _resolve_products(ret, live)
    problems += _resolve_reasons(ret, live)
    channel = ret.connection.khaos_channel
    exchange_problems, urn = _exchanges(ret, channel, ctx)
    problems += exchange_problems

    due = _posting_due(ret, live)
    if due:
        urn_or_problem = resolution.resolve_urn(ret, channel)
        order_or_problem = resolution.resolve_source_order(ret)
        problems += [p for p in (urn_or_problem, order_or_problem) if isinstance(p, Problem)]
        problems += _value_check(ret, live)
        urn = urn_or_problem if isinstance(urn_or_problem, str) else None

    blocking = _sync_exceptions(ret, problems, ctx)
    if due and channel is not None:
        _post_return(ret, live, channel, urn=urn, held=bool(blocking), ctx=ctx)


# --- physical side -------------------------------------------------------------


def _sync_physical_state(ret: Return, live: list[ReturnUnit], ctx: Context) -> None:
    target = physical_state([u.state for u in live]) if live else ret.state
    if target != ret.state and target in RETURN_TRANSITIONS[ret.state]:
        move_return(ret, "state", target, cause=ctx.cause, actor=ctx.actor, delivery=ctx.delivery)


def _wind_down(ret: Return, ctx: Context) -> None:
    """Cancelled or expired: nothing posts, held postings are withdrawn, causes closed."""
    for posting in ret.postings.filter(state__in=[PostingState.HELD, PostingState.READY],
                                       first_downloaded_at__isnull=True):  # fmt: skip
        posting.state = PostingState.WITHDRAWN
        posting.withdrawn_at = timezone.now()
        posting.save(update_fields=["state", "withdrawn_at"])
        timeline.record(ret, "posting_withdrawn",
                        f"Posting {posting.associated_ref} withdrawn: the return is {ret.state}",
                        cause=ctx.cause, actor=ctx.actor)  # fmt: skip
    ret.exchanges.filter(state__in=[ExchangeState.REQUESTED, ExchangeState.UNAVAILABLE]).update(
        state=ExchangeState.CANCELLED
    )
    _close(ret.exceptions.filter(status=ExceptionStatus.OPEN, kind__in=ENGINE_KINDS),
           f"The return is {ret.state}; nothing will post.")  # fmt: skip
    if ret.money_state == MoneyState.PENDING:
        move_return(ret, "money_state", MoneyState.NONE, cause=ctx.cause, actor=ctx.actor)


# --- resolution ----------------------------------------------------------------


def _resolve_products(ret: Return, live: list[ReturnUnit]) -> list[Problem]:
    problems = []
    changed: dict[int | None, list[int]] = {}
    known: dict[tuple[str, str], object] = {}  # units of the same SKU resolve once
    for unit in live:
        key = (unit.platform_sku, unit.barcode)
        if key not in known:
            known[key] = resolution.resolve_unit_product(ret, unit)
        result = known[key]
        if isinstance(result, Problem):
            result = Problem(result.kind, result.cause, result.message, unit=result.unit or unit,
                             details=result.details)  # fmt: skip
        product = None if isinstance(result, Problem) else result
        if isinstance(result, Problem):
            problems.append(result)
        if unit.product_id != (product.pk if product else None):
            unit.product = product
            changed.setdefault(product.pk if product else None, []).append(unit.pk)
    for product_id, ids in changed.items():
        ReturnUnit.objects.filter(pk__in=ids).update(product_id=product_id)
    return problems


def _reason_for(ret: Return, unit: ReturnUnit):
    if unit.state == UnitState.NOT_RETURNED:
        return resolution.resolve_by_disposition(ret, unit)
    if ret.connection.posting_policy == PostingPolicy.ON_REFUND_UNPROCESSED:
        return resolution.resolve_by_reason(ret, unit)
    if unit.state == UnitState.GRADED:
        return resolution.resolve_by_disposition(ret, unit)
    return None  # not graded yet: its reason comes with its grade


def _resolve_reasons(ret: Return, live: list[ReturnUnit]) -> list[Problem]:
    """Reasons and sites, checked as soon as they are known so a team can fix them early."""
    problems = []
    changed: dict[tuple[int | None, int | None], list[int]] = {}
    known: dict[tuple[str, str, str, str], object] = {}  # the same answer for the same codes
    for unit in live:
        key = (unit.state, unit.outcome, unit.disposition, unit.reason)
        if key not in known:
            known[key] = _reason_for(ret, unit)
        result = known[key]
        reason, site = (None, None)
        if isinstance(result, Problem):
            problems.append(result)
        elif result is not None:
            reason, site = result.reason, result.site_id
        wanted = (reason.pk if reason else None, site)
        if (unit.khaos_return_reason_id, unit.site_id) != wanted:
            unit.khaos_return_reason, unit.site_id = reason, site
            changed.setdefault(wanted, []).append(unit.pk)
    for (reason_id, site_id), ids in changed.items():
        ReturnUnit.objects.filter(pk__in=ids).update(khaos_return_reason_id=reason_id,
                                                     site_id=site_id)  # fmt: skip
    return problems


# --- when Khaos may be told --------------------------------------------------------


def _settled(ret: Return) -> bool:
    return ret.refunded_at is not None or ret.store_credit_amount > 0


def _posting_due(ret: Return, live: list[ReturnUnit]) -> bool:
    if not live:
        return False
    policy = ret.connection.posting_policy
    if policy == PostingPolicy.ON_REFUND_UNPROCESSED:
        return _settled(ret)
    if all(u.state == UnitState.NOT_RETURNED for u in live):
        return _settled(ret)  # keep item, donate: post at refund, expect no goods
    return all(u.state in (UnitState.GRADED, UnitState.NOT_RETURNED) for u in live)


def expected_credit(ret: Return, live: list[ReturnUnit]) -> Decimal:
    amount = total(u.expected_credit for u in live)
    if ret.connection.credit_refunded_shipping:
        amount += ret.shipping_refunded
    if ret.connection.credit_handling_fee:
        amount -= ret.handling_fee
    return amount


def settlement(ret: Return) -> Decimal:
    return total([ret.refunded_amount, ret.store_credit_amount, ret.exchange_amount])


def _value_check(ret: Return, live: list[ReturnUnit]) -> list[Problem]:
    settled = settlement(ret)
    if settled == 0:
        return []  # nothing settled yet: nothing to compare
    expected = expected_credit(ret, live)
    difference = settled - expected
    if abs(difference) <= ret.connection.value_tolerance:
        return []
    if ret.value_approved_amount is not None and ret.value_approved_amount == settled:
        return []
    sign = "+" if difference > 0 else ""
    return [
        Problem(
            ExceptionKind.VALUE_MISMATCH, "value",
            f"The platform settled {settled} {ret.currency} but the expected credit is "
            f"{expected} {ret.currency} (price - discount + tax): {sign}{difference}.",
            details={"settled": str(settled), "expected": str(expected),
                     "difference": f"{sign}{difference}", "currency": ret.currency},
        )
    ]  # fmt: skip


# --- exceptions ----------------------------------------------------------------


def _close(queryset, resolution_text: str) -> int:
    return queryset.update(
        status=ExceptionStatus.RESOLVED, resolution=resolution_text, resolved_at=timezone.now()
    )


def _sync_exceptions(ret: Return, problems: list[Problem], ctx: Context) -> set[str]:
    """Open an exception per problem, close those whose cause has gone.

    Returns the cause keys that hold the return's posting (ignored ones too:
    ignoring acknowledges a cause, it does not make the data right).
    """
    current = {p.cause_key(ret): p for p in problems}
    for key, problem in current.items():
        if ExceptionCase.objects.filter(cause_key=key, status=ExceptionStatus.IGNORED).exists():
            continue
        case, created = open_exception(
            problem.kind, cause_key=key, message=problem.message, recurrence=False, return_ref=ret,
            unit=problem.unit, connection=ret.connection, delivery=ctx.delivery,
            details=problem.details,
        )  # fmt: skip
        if created:
            timeline.record(ret, "exception_opened",
                            f"{case.get_kind_display()} ({case.owner}): {problem.message}",
                            cause=ctx.cause, actor=ctx.actor, unit=problem.unit)  # fmt: skip
    stale = list(ret.exceptions.filter(status=ExceptionStatus.OPEN, kind__in=ENGINE_KINDS)
                 .exclude(cause_key__in=current))  # fmt: skip
    for case in stale:
        timeline.record(ret, "exception_resolved",
                        f"{case.get_kind_display()} resolved: its cause has gone",
                        cause=ctx.cause, actor=ctx.actor)  # fmt: skip
    if stale:
        _close(ExceptionCase.objects.filter(pk__in=[c.pk for c in stale]),
               "Resolved automatically: the cause has gone.")  # fmt: skip
    return {key for key, p in current.items() if p.kind not in NON_BLOCKING}


# --- postings --------------------------------------------------------------------


def _return_lines(ret: Return, live: list[ReturnUnit]) -> list[khaos_documents.ReturnLine]:
    return [
        khaos_documents.ReturnLine(
            stock_code=unit.product.stock_code,
            reason_id=unit.khaos_return_reason_id,
            unit_price=unit.expected_credit,
            source_order=ret.order_ref,
        )
        for unit in live
    ]


def _post_return(ret: Return, live, channel, *, urn: str | None, held: bool, ctx: Context):
    posting = ret.postings.filter(kind=PostingKind.RETURN).first()
    if posting is None:
        # Unsaved until it is held or made ready below: one insert either way.
        posting = Posting(
            channel=channel, return_ref=ret, kind=PostingKind.RETURN,
            associated_ref=ret.associated_ref, state=PostingState.HELD, currency=ret.currency,
            process_return=ret.connection.posting_policy != PostingPolicy.ON_REFUND_UNPROCESSED,
        )  # fmt: skip
        if held:
            posting.save()
        timeline.record(ret, "posting_created",
                        f"Posting {posting.associated_ref} created"
                        + (", held by open exceptions" if held else ""),
                        cause=ctx.cause, actor=ctx.actor)  # fmt: skip
    if posting.state != PostingState.HELD or held:
        return  # made already (its document is fixed), or still held
    posting.document = documents.dumps(
        khaos_documents.customer_return(
            ret, urn=urn, lines=_return_lines(ret, live), process=posting.process_return
        )
    )
    _make_ready(posting, expected=expected_credit(ret, live))
    timeline.record(ret, "posting_ready",
                    f"Posting {posting.associated_ref} ready for Khaos: credit "
                    f"{posting.expected_credit} {posting.currency}, "
                    f"ProcessReturn {str(posting.process_return).lower()}",
                    cause=ctx.cause, actor=ctx.actor)  # fmt: skip
    move_return(ret, "money_state", MoneyState.POSTED, cause=ctx.cause, actor=ctx.actor)


def _make_ready(posting: Posting, *, expected: Decimal) -> None:
    now = timezone.now()
    posting.state = PostingState.READY
    posting.expected_credit = expected
    posting.ready_at = now
    posting.confirm_by = now + timedelta(days=posting.channel.confirmation_days)
    if posting.pk is None:
        posting.save()
    else:
        posting.save(
            update_fields=["document", "state", "expected_credit", "ready_at", "confirm_by"]
        )


# --- exchanges -------------------------------------------------------------------


def exchange_ref(ret: Return, exchange: ExchangeRequest) -> str:
    suffix = "-X" if exchange.sequence == 1 else f"-X{exchange.sequence}"
    return f"{ret.associated_ref}{suffix}"


def _availability(product: KhaosProduct, quantity: int, site_id: int) -> str | None:
    """Why the replacement cannot be sent, or None when it can."""
    if product.deleted:
        return f"{product.stock_code} is deleted in Khaos"
    if product.discontinued:
        return f"{product.stock_code} is discontinued"
    if not product.publish_on_web:
        return f"{product.stock_code} is not published on web"
    if not product.stock_controlled:
        return None
    level = StockLevel.objects.filter(product=product, site_id=site_id).first()
    available = level.available if level is not None else None
    if available is None or available < quantity:
        return f"{product.stock_code} has {available or 0} available at site {site_id}"
    return None


def _exchanges(ret: Return, channel, ctx: Context) -> tuple[list[Problem], str | None]:
    """Place a zero-value order for each exchange that can be sent; else exchange_unavailable."""
    problems: list[Problem] = []
    urn = None
    open_requests = list(
        ret.exchanges.filter(state__in=[ExchangeState.REQUESTED, ExchangeState.UNAVAILABLE])
    )
    if not open_requests or channel is None:
        return problems, urn
    for exchange in open_requests:
        result = resolution.resolve_product(
            ret.connection.platform, exchange.platform_sku, "", what="Exchange"
        )
        if isinstance(result, Problem):
            why = result.message
            product = None
        else:
            product = result
            why = _availability(product, exchange.quantity, channel.site_id)
        if why:
            problems.append(Problem(
                ExceptionKind.EXCHANGE_UNAVAILABLE, f"exchange:{exchange.pk}",
                f"Exchange to {exchange.platform_sku} cannot be placed: {why}. The return posts "
                "without it; offer the customer a refund or another item.",
                exchange=exchange, details={"sku": exchange.platform_sku, "why": why},
            ))  # fmt: skip
            if exchange.state != ExchangeState.UNAVAILABLE:
                exchange.state = ExchangeState.UNAVAILABLE
                exchange.save(update_fields=["state"])
            continue
        urn_or_problem = resolution.resolve_urn(ret, channel)
        if isinstance(urn_or_problem, Problem):
            problems.append(urn_or_problem)
            continue
        urn = urn_or_problem
        _place_exchange_order(ret, exchange, product, channel, urn, ctx)
    return problems, urn


def _place_exchange_order(ret, exchange, product, channel, urn, ctx: Context) -> None:
    ref = exchange_ref(ret, exchange)
    posting = Posting(
        channel=channel, return_ref=ret, exchange=exchange, kind=PostingKind.EXCHANGE_ORDER,
        associated_ref=ref, currency=ret.currency, process_return=False,
        document=documents.dumps(khaos_documents.exchange_order(
            ret, exchange, ref=ref, urn=urn, product=product, channel=channel,
        )),
    )  # fmt: skip
    _make_ready(posting, expected=Decimal("0.00"))
    exchange.product = product
    exchange.state = ExchangeState.ORDERED
    exchange.save(update_fields=["product", "state"])
    timeline.record(ret, "exchange_ordered",
                    f"Exchange order {ref} ready for Khaos: {exchange.quantity} x "
                    f"{product.stock_code} at site {channel.site_id}, zero value",
                    cause=ctx.cause, actor=ctx.actor)  # fmt: skip
