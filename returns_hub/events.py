"""The hub's own return events. Connectors translate platform payloads into these.

Every event names the return by its platform id and carries an ``event_key``
that is the same however the event reached the hub (webhook or poll), so
applying it twice changes nothing. Unit ids are the platform's unit ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class UnitData:
    """One physical unit as the platform describes it."""

    external_id: str
    platform_sku: str
    barcode: str = ""
    title: str = ""
    # None: the platform gave no price (Khaos prices the line from the source order).
    price: Decimal | None = ZERO
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    reason: str = ""
    # refund, exchange, store_credit, …; keep_item and donate are non-return outcomes
    outcome: str = ""


@dataclass(frozen=True)
class ExchangeData:
    """A replacement the customer asked for."""

    external_id: str
    platform_sku: str
    title: str = ""
    quantity: int = 1
    value: Decimal = ZERO


@dataclass(frozen=True)
class ReturnEvent:
    external_id: str
    event_key: str
    occurred_at: datetime | None


@dataclass(frozen=True)
class ReturnOpened(ReturnEvent):
    """A return the hub may not know yet, with its units and exchanges.

    Sent again with more units or exchanges, it adds them; what the hub
    already knows is kept.
    """

    order_ref: str = ""
    customer_email: str = ""
    customer_name: str = ""
    address: dict = field(default_factory=dict)
    currency: str = "GBP"
    platform_state: str = ""
    units: tuple[UnitData, ...] = ()
    exchanges: tuple[ExchangeData, ...] = ()
    handling_fee: Decimal = ZERO
    shipping_refunded: Decimal = ZERO


@dataclass(frozen=True)
class UnitsInTransit(ReturnEvent):
    """Units left the customer (dropped off, first carrier scan). Empty: every unit."""

    unit_ids: tuple[str, ...] = ()
    shipment: str = ""


@dataclass(frozen=True)
class UnitsReceived(ReturnEvent):
    """Units arrived at the warehouse (or the platform's hub). Empty: every unit."""

    unit_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitGraded(ReturnEvent):
    """A unit's grade; ``disposition`` is the code the disposition table maps."""

    unit_id: str = ""
    disposition: str = ""
    condition: str = ""


@dataclass(frozen=True)
class UnitGradeUnread(ReturnEvent):
    """The platform graded a unit in a shape the hub does not read: the unit stays
    ungraded, with ``note`` saying what was not understood, and nothing else is lost."""

    unit_id: str = ""
    note: str = ""


@dataclass(frozen=True)
class LabelUpdated(ReturnEvent):
    """The return label's status as the platform reports it (created, in transit, …)."""

    status: str = ""
    carrier: str = ""
    tracking: str = ""


@dataclass(frozen=True)
class RefundIssued(ReturnEvent):
    """The platform paid money back (``amount``) and/or issued credit."""

    amount: Decimal = ZERO
    currency: str = "GBP"
    reference: str = ""


@dataclass(frozen=True)
class CreditIssued(ReturnEvent):
    """Store credit or a gift card instead of money: a liability to reconcile."""

    amount: Decimal = ZERO
    currency: str = "GBP"
    reference: str = ""
    kind: str = "store_credit"  # or gift_card


@dataclass(frozen=True)
class ReturnCancelled(ReturnEvent):
    pass


@dataclass(frozen=True)
class ReturnExpired(ReturnEvent):
    pass


@dataclass(frozen=True)
class ShipmentAnnounced(ReturnEvent):
    """A consolidated shipment (pallet) carrying units of this return.

    ``external_id`` is the return; one pallet yields one event per return.
    """

    reference: str = ""
    unit_ids: tuple[str, ...] = ()
    po_number: str = ""
    carrier: str = ""
    tracking: str = ""
    departed_at: datetime | None = None
