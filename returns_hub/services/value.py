"""The value check: what Khaos should credit against what the platform settled.

Expected credit per unit = price - discount + tax (DESIGN's money rule), plus
refunded shipping and less the handling fee where the connection says so. The
settlement is money refunded + store credit + exchange value. A difference
above the connection's tolerance (``HUB_VALUE_TOLERANCE`` unless the
connection sets its own) is ``value_mismatch`` until finance approves that
settlement. Where the platform reports what it paid, a graded return waits
for the settlement (``settlement_wait`` hours) so this check runs before Khaos
is told; past the wait it is ``settlement_missing`` until finance releases it
at the expected credit. Pure: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from returns_hub.choices import ExceptionKind
from returns_hub.models import Return, ReturnUnit
from returns_hub.money import total
from returns_hub.services.resolution import Problem


def expected_credit(ret: Return, live: list[ReturnUnit]) -> Decimal:
    amount = total(u.expected_credit for u in live)
    if ret.connection.credit_refunded_shipping:
        amount += ret.shipping_refunded
    if ret.connection.credit_handling_fee:
        amount -= ret.handling_fee
    return amount


def estimated(live: list[ReturnUnit]) -> bool:
    """Some unit's credit comes from the Khaos SellPrice: the platform gave no price."""
    return any(u.expected_credit_estimated for u in live)


def settlement(ret: Return) -> Decimal:
    return total([ret.refunded_amount, ret.store_credit_amount, ret.exchange_amount])


def is_settled(ret: Return) -> bool:
    """The platform has reported paying something: a refund, a credit or an exchange."""
    return ret.refunded_at is not None or ret.store_credit_amount > 0 or ret.exchange_amount > 0


def mismatch(ret: Return, live: list[ReturnUnit]) -> Problem | None:
    settled = settlement(ret)
    if settled == 0:
        return None  # nothing settled yet: nothing to compare
    expected = expected_credit(ret, live)
    difference = settled - expected
    if abs(difference) <= ret.connection.tolerance:
        return None
    if ret.value_approved_amount is not None and ret.value_approved_amount == settled:
        return None
    sign = "+" if difference > 0 else ""
    # The settled amount is part of the cause: a new settlement is a new case, never one
    # that was approved or ignored for another amount.
    return Problem(
        ExceptionKind.VALUE_MISMATCH,
        f"value:{settled}",
        f"The platform settled {settled} {ret.currency} but the expected credit is "
        f"{expected} {ret.currency} ({_basis(live)}): {sign}{difference}.",
        details={
            "settled": str(settled),
            "expected": str(expected),
            "difference": f"{sign}{difference}",
            "currency": ret.currency,
        },
    )


def _basis(live: list[ReturnUnit]) -> str:
    """How the expected credit was reached, said where finance reads it."""
    return "estimated from the Khaos SellPrice" if estimated(live) else "price - discount + tax"


@dataclass(frozen=True)
class SettlementWait:
    """A graded return still inside its wait for the platform's settlement."""

    until: datetime


def awaiting_settlement(
    ret: Return, live: list[ReturnUnit], now: datetime
) -> SettlementWait | Problem | None:
    """None: go ahead. A wait: not due yet. A problem: the wait is over, settlement_missing."""
    hours = ret.connection.settlement_wait
    if not hours or is_settled(ret) or ret.settlement_waived_at is not None:
        return None
    graded = [u.graded_at for u in live if u.graded_at is not None]
    since = max(graded) if graded else now
    until = since + timedelta(hours=hours)
    if now < until:
        return SettlementWait(until)
    expected = expected_credit(ret, live)
    basis = f" ({_basis(live)})" if estimated(live) else ""
    return Problem(
        ExceptionKind.SETTLEMENT_MISSING,
        "settlement",
        f"Graded {hours} hour(s) ago and {ret.connection.spec.label} has reported no refund, "
        f"credit or exchange, so the value cannot be checked. Approve to post at the expected "
        f"credit of {expected} {ret.currency}{basis}, or ignore if it is handled outside the hub.",
        details={"expected": str(expected), "currency": ret.currency, "waited_hours": hours},
    )
