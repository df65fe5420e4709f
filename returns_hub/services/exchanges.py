"""Exchanges: a replacement the customer asked for, ordered in Khaos at most once.

    requested ──► ordered (its zero-value sales order is ready for Khaos) ──► cancelled (by Khaos)
        │  ▲
        ▼  │ stock arrives while the case is open
    unavailable ──► closed (for good: ignored, resolved by a person, refunded instead, return ended)

An exchange is only re-checked while it is requested or unavailable, that is
while its ``exchange_unavailable`` case is open and the customer still waits.
The sales order's posting is one-to-one with the exchange, so it is placed at
most once. The caller holds the return's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns_hub import documents
from returns_hub.choices import ExceptionKind, ExchangeState
from returns_hub.models import (
    ExchangeRequest,
    KhaosChannel,
    KhaosProduct,
    Posting,
    Return,
    StockLevel,
)
from returns_hub.services import khaos_documents, postings, resolution, timeline
from returns_hub.services.resolution import Problem
from returns_hub.services.timeline import By

E = ExchangeState
WAITING = (E.REQUESTED, E.UNAVAILABLE)


@dataclass(frozen=True)
class Placeable:
    exchange: ExchangeRequest
    product: KhaosProduct


def availability(product: KhaosProduct, quantity: int, site_id: int) -> str | None:
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


def channel_gaps(channel: KhaosChannel | None) -> list[str]:
    """What the channel lacks for exchange orders (Khaos requires both DataItems)."""
    if channel is None:
        return ["a Khaos channel"]
    gaps = []
    if not channel.sales_source:
        gaps.append("a sales source (set_khaos_channel --sales-source)")
    if not channel.company_class_id:
        gaps.append("a company class (set_khaos_channel --company-class)")
    return gaps


def waiting(ret: Return) -> list[ExchangeRequest]:
    return list(ret.exchanges.filter(state__in=WAITING).order_by("sequence"))


def diagnose(ret: Return, channel: KhaosChannel | None) -> tuple[list[Problem], list[Placeable]]:
    """What holds each waiting exchange, and which can be placed now. Writes nothing."""
    problems: list[Problem] = []
    ready: list[Placeable] = []
    gaps = channel_gaps(channel)
    for exchange in waiting(ret):
        if channel is None:  # no site to check stock at: the channel comes first
            problems.append(_incomplete(exchange, gaps))
            continue
        result = resolution.resolve_product(
            ret.connection.platform, exchange.platform_sku, "", what="Exchange"
        )
        product = None if isinstance(result, Problem) else result
        why = (
            result.message
            if product is None
            else availability(product, exchange.quantity, channel.site_id)
        )
        if why:
            problems.append(
                Problem(
                    ExceptionKind.EXCHANGE_UNAVAILABLE,
                    f"exchange:{exchange.pk}",
                    f"Exchange to {exchange.platform_sku} cannot be placed: {why}. "
                    "The return posts without it; offer the customer a refund or another item.",
                    exchange=exchange,
                    details={"sku": exchange.platform_sku, "why": why, "exchange_id": exchange.pk},
                )
            )
            continue
        if gaps:
            problems.append(_incomplete(exchange, gaps))
            continue
        ready.append(Placeable(exchange, product))
    return problems, ready


def _incomplete(exchange: ExchangeRequest, gaps: list[str]) -> Problem:
    return Problem(
        ExceptionKind.CHANNEL_INCOMPLETE,
        f"channel:exchange:{exchange.pk}",
        f"Exchange order for {exchange.platform_sku} is held: the Khaos channel needs "
        f"{' and '.join(gaps)}.",
        exchange=exchange,
        details={"missing": gaps, "exchange_id": exchange.pk},
    )


def mark_unavailable(exchanges: list[ExchangeRequest]) -> None:
    ids = [e.pk for e in exchanges if e.state == E.REQUESTED]
    ExchangeRequest.objects.filter(pk__in=ids, state=E.REQUESTED).update(state=E.UNAVAILABLE)


def place(ret: Return, item: Placeable, channel: KhaosChannel, urn: str, by: By) -> bool:
    """The zero-value sales order, made ready once. False if it was placed already."""
    exchange = item.exchange
    posting = postings.hold_exchange(ret, exchange, channel, by)
    document = documents.dumps(
        khaos_documents.exchange_order(
            ret,
            exchange,
            ref=posting.associated_ref,
            urn=urn,
            product=item.product,
            channel=channel,
        )
    )
    if not postings.make_ready(posting, channel=channel, document=document, expected=0, by=by):
        return False
    ExchangeRequest.objects.filter(pk=exchange.pk, state__in=WAITING).update(
        state=E.ORDERED, product=item.product
    )
    exchange.state, exchange.product = E.ORDERED, item.product
    return True


def close_for_good(exchange: ExchangeRequest, reason: str, by: By) -> bool:
    """Never placed, never re-checked again; its held order (if any) is withdrawn."""
    if not ExchangeRequest.objects.filter(pk=exchange.pk, state__in=WAITING).update(state=E.CLOSED):
        return False
    exchange.state = E.CLOSED
    posting = Posting.objects.filter(exchange=exchange).first()
    if posting is not None:
        postings.withdraw(posting, reason=reason, by=by)
    timeline.record(
        exchange.return_ref,
        "exchange_closed",
        f"Exchange to {exchange.platform_sku} closed: {reason}",
        by=by,
    )
    return True


def order_status(posting: Posting, status: str, *, code: str) -> None:
    """Khaos's word on the exchange's order, kept on the exchange for CX."""
    exchange = posting.exchange
    changes = {"order_status": status[:30]}
    if status.lower() == "cancelled":
        changes["state"] = E.CANCELLED
    ExchangeRequest.objects.filter(pk=exchange.pk).update(**changes)
    for name, value in changes.items():
        setattr(exchange, name, value)
