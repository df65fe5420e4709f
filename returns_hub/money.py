"""Money: Decimal amounts in a currency, rounded to the penny, never float."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")


def to_pennies(amount: Decimal) -> Decimal:
    """Round half up to the penny, as a finance team would on paper."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


def total(amounts: Iterable[Decimal]) -> Decimal:
    return to_pennies(sum(amounts, ZERO))


def split(amount: Decimal, parts: int) -> list[Decimal]:
    """Split into ``parts`` penny amounts that add up to ``amount`` exactly.

    The first parts carry the odd pennies, so 10.00 / 3 is 3.34, 3.33, 3.33.
    """
    if parts < 1:
        raise ValueError("split into at least one part")
    pennies = int(to_pennies(amount) / PENNY)
    base, odd = divmod(abs(pennies), parts)
    sign = -1 if pennies < 0 else 1
    return [sign * (base + (1 if i < odd else 0)) * PENNY for i in range(parts)]


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_pennies(self.amount))
        if len(self.currency) != 3:
            raise ValueError(f"currency must be an ISO 4217 code, not {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.amount - other.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
