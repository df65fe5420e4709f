"""The hub's own return events. Connectors translate platform payloads into these.

Every event names the return by its platform id and carries an ``event_key``
that is the same however the event reached the hub (webhook or poll), so
applying it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class UnitData:
    """One physical unit as the platform describes it."""

    external_id: str
    platform_sku: str
    barcode: str = ""
    title: str = ""
    price: Decimal = Decimal("0.00")
    discount: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")
    reason: str = ""
    outcome: str = ""


@dataclass(frozen=True)
class ReturnEvent:
    external_id: str
    event_key: str
    occurred_at: datetime | None


@dataclass(frozen=True)
class ReturnOpened(ReturnEvent):
    """A return the hub may not know yet, with its units."""

    order_ref: str = ""
    customer_email: str = ""
    customer_name: str = ""
    address: dict = field(default_factory=dict)
    currency: str = "GBP"
    platform_state: str = ""
    units: tuple[UnitData, ...] = ()
