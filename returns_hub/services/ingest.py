"""Applies the hub's return events to returns, one return at a time, then evaluates.

Each event is applied under the return's row lock, recorded on its timeline
with its event key (so it is applied once however often it arrives), and
followed by the engine's evaluation.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from returns_hub import events as ev
from returns_hub.choices import Cause, ExchangeState, MoneyState, ReturnState, UnitState
from returns_hub.models import (
    ExchangeRequest,
    InboundShipment,
    InboxDelivery,
    PlatformConnection,
    Return,
    ReturnUnit,
    StoreCreditLiability,
)
from returns_hub.services import engine, timeline, units
from returns_hub.services.locks import lock_or_create_return
from returns_hub.services.resolution import NON_RETURN_OUTCOMES
from returns_hub.services.timeline import By
from returns_hub.state_machine import RETURN_TRANSITIONS, allowed, move_return


def associated_ref(connection: PlatformConnection, external_id: str) -> str:
    ref = f"{connection.spec.ref_prefix}-{external_id}"
    if len(ref) > 50:
        raise ValueError(f"AssociatedRef {ref!r} is longer than Khaos's 50 characters")
    return ref


def apply_all(
    connection: PlatformConnection,
    events: list[ev.ReturnEvent],
    *,
    delivery: InboxDelivery | None = None,
) -> list[Return]:
    """Apply the events of one delivery, then evaluate each return they touched once.

    A delivery is one moment of the platform's story (a snapshot can hold a
    grade and the refund beside it): the engine decides on all of it, not on
    the first half. Each return is held under its row lock throughout.
    """
    # Inside the caller's transaction when there is one (no savepoint of its own).
    with transaction.atomic(savepoint=False), timeline.batch():
        return _apply_all(connection, events, delivery)


def _apply_all(connection, events, delivery) -> list[Return]:
    firsts: dict[str, ev.ReturnEvent] = {}
    for event in events:
        firsts.setdefault(event.external_id, event)
    # A delivery naming several returns locks them in one order (by platform id), so two
    # deliveries naming the same returns wait for each other instead of deadlocking.
    locked = {rid: _locked_return(connection, firsts[rid]) for rid in sorted(firsts)}
    touched: dict[str, Return] = {}
    applied: dict[int, set[str]] = {}
    changed: set[int] = set()
    for event in events:
        ret = touched.get(event.external_id)
        if ret is None:
            ret = touched[event.external_id] = locked[event.external_id]
            applied[ret.pk] = timeline.event_keys(ret)
            # Nothing applied yet: new, whoever inserted it (a racing delivery may have,
            # and waited for us on its lock), so there is nothing of it to look up.
            ret.is_new = not applied[ret.pk]
        if event.event_key in applied[ret.pk]:
            continue  # the same event again (a redelivery, or a poll after a webhook)
        applied[ret.pk].add(event.event_key)
        changed.add(ret.pk)
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"no handler for {type(event).__name__}")
        message = handler(ret, event, delivery)
        timeline.record(
            ret,
            _kind(event),
            message,
            cause=Cause.PLATFORM,
            delivery=delivery,
            event_key=event.event_key,
            details={"occurred_at": str(event.occurred_at or "")},
        )
    for ret in touched.values():
        if ret.pk in changed:  # nothing new: nothing to decide, nothing changes
            engine.evaluate(ret, by=_by(delivery))
    return list(touched.values())


def apply(
    connection: PlatformConnection, event: ev.ReturnEvent, *, delivery: InboxDelivery | None = None
) -> Return:
    """Apply one event and evaluate its return."""
    return apply_all(connection, [event], delivery=delivery)[0]


def _kind(event: ev.ReturnEvent) -> str:
    return "platform_" + "".join(
        f"_{c.lower()}" if c.isupper() else c for c in type(event).__name__
    ).lstrip("_")


def _locked_return(connection: PlatformConnection, event: ev.ReturnEvent) -> Return:
    defaults = {
        "associated_ref": associated_ref(connection, event.external_id),
        "currency": getattr(event, "currency", "GBP"),
    }
    ret, _ = lock_or_create_return(connection, event.external_id, defaults)
    return ret


def _units(ret: Return, ids: tuple[str, ...]):
    found = ret.units.order_by("id")
    return found.filter(external_id__in=ids) if ids else found


def _unit_cache(ret: Return) -> dict[str, ReturnUnit]:
    """The return's units, read once per delivery and kept current as events move them."""
    cache = getattr(ret, "_unit_cache", None)
    if cache is None:
        cache = {unit.external_id: unit for unit in ret.units.order_by("id")}
        ret._unit_cache = cache
    return cache


def _cached_units(ret: Return, ids: tuple[str, ...]) -> list[ReturnUnit]:
    cache = _unit_cache(ret)
    return [cache[i] for i in ids if i in cache] if ids else list(cache.values())


def _advance(ret: Return, ids: tuple[str, ...], target: str, delivery, *, stamp: str = "") -> int:
    return units.advance(ret, _cached_units(ret, ids), target, _by(delivery), stamp=stamp)


def _by(delivery) -> By:
    return By(Cause.PLATFORM, delivery=delivery)


def _opened(ret: Return, event: ev.ReturnOpened, delivery) -> str:
    fresh = getattr(ret, "is_new", False)  # just inserted: nothing to look up
    first_time = fresh or (not ret.units.exists() and not ret.order_ref)
    # Khaos knows the web order by its number without the shop's leading "#".
    ret.order_ref = ret.order_ref or event.order_ref.strip().lstrip("#").strip()
    ret.customer_email = ret.customer_email or event.customer_email.strip().lower()
    ret.customer_name = ret.customer_name or event.customer_name
    ret.address = ret.address or event.address
    ret.currency = event.currency
    ret.platform_state = event.platform_state
    ret.handling_fee = event.handling_fee
    ret.shipping_refunded = event.shipping_refunded
    if event.occurred_at and ret.platform_created_at is None:
        ret.platform_created_at = event.occurred_at
    ret.save(
        update_fields=[
            "order_ref",
            "customer_email",
            "customer_name",
            "address",
            "currency",
            "platform_state",
            "handling_fee",
            "shipping_refunded",
            "platform_created_at",
            "updated_at",
        ]
    )

    known = set() if fresh else set(ret.units.values_list("external_id", flat=True))
    new_units = ReturnUnit.objects.bulk_create(
        [
            ReturnUnit(
                return_ref=ret,
                external_id=u.external_id,
                platform_sku=u.platform_sku,
                barcode=u.barcode,
                title=u.title,
                price=u.price if u.price is not None else 0,
                price_known=u.price is not None,
                discount=u.discount,
                tax=u.tax,
                reason=u.reason,
                outcome=u.outcome,
            )
            for u in event.units
            if u.external_id not in known
        ]
    )
    if fresh:
        ret._unit_cache = {}
    if getattr(ret, "_unit_cache", None) is not None:
        ret._unit_cache.update({unit.external_id: unit for unit in new_units})
    for unit in new_units:
        if unit.outcome in NON_RETURN_OUTCOMES:
            units.not_returned(unit, _by(delivery))

    existing = set() if fresh else set(ret.exchanges.values_list("external_id", flat=True))
    sequence = 0 if fresh else ret.exchanges.count()
    new_exchanges = []
    for exchange in event.exchanges:
        if exchange.external_id in existing:
            continue
        sequence += 1
        new_exchanges.append(
            ExchangeRequest(
                return_ref=ret,
                external_id=exchange.external_id,
                sequence=sequence,
                platform_sku=exchange.platform_sku,
                title=exchange.title,
                quantity=exchange.quantity,
                value=exchange.value,
            )
        )
    ExchangeRequest.objects.bulk_create(new_exchanges)
    if new_exchanges:
        ret.exchange_amount = sum(
            (e.value for e in ret.exchanges.exclude(state=ExchangeState.CANCELLED)),
            start=ret.exchange_amount * 0,
        )
        ret.save(update_fields=["exchange_amount", "updated_at"])

    counted = f"{len(new_units)} unit{'s' if len(new_units) != 1 else ''}"
    extra = f" and {len(new_exchanges)} exchange(s)" if new_exchanges else ""
    if first_time:
        return f"Return opened with {counted}{extra}"
    return f"Return reported again ({event.platform_state or 'no state'}); {counted} new{extra}"


def _in_transit(ret: Return, event: ev.UnitsInTransit, delivery) -> str:
    moved = _advance(ret, event.unit_ids, UnitState.IN_TRANSIT, delivery)
    via = f" ({event.shipment})" if event.shipment else ""
    return f"Platform reports the goods in transit{via}; {moved} unit(s) moved"


def _received(ret: Return, event: ev.UnitsReceived, delivery) -> str:
    moved = _advance(ret, event.unit_ids, UnitState.RECEIVED, delivery, stamp="received_at")
    return f"Platform reports the goods delivered; {moved} unit(s) received"


def _graded(ret: Return, event: ev.UnitGraded, delivery) -> str:
    unit = _unit_cache(ret).get(event.unit_id)
    if unit is None:
        return f"Grade {event.disposition!r} for unknown unit {event.unit_id}: not applied"
    try:
        return units.grade(unit, event.disposition, event.condition, _by(delivery))
    except units.UnitError as error:
        return f"Grade {event.disposition!r} for unit {event.unit_id} not applied: {error}"


def _grade_unread(ret: Return, event: ev.UnitGradeUnread, delivery) -> str:
    unit = _unit_cache(ret).get(event.unit_id)
    if unit is None:
        return f"Unreadable grade for unknown unit {event.unit_id}: {event.note}"
    if unit.graded_at is None:
        unit.grade_note = event.note[:500]
        unit.save(update_fields=["grade_note"])
    return f"Unit {event.unit_id} left ungraded: {event.note}"


def _label(ret: Return, event: ev.LabelUpdated, delivery) -> str:
    ret.label_status = event.status or ret.label_status
    ret.label_carrier = event.carrier or ret.label_carrier
    ret.label_tracking = event.tracking or ret.label_tracking
    ret.label_updated_at = event.occurred_at or timezone.now()
    ret.save(
        update_fields=[
            "label_status",
            "label_carrier",
            "label_tracking",
            "label_updated_at",
            "updated_at",
        ]
    )
    parts = [part for part in (event.carrier, event.tracking) if part]
    via = f" ({' '.join(parts)})" if parts else ""
    return f"Return label {event.status or 'updated'}{via}"


def _refunded(ret: Return, event: ev.RefundIssued, delivery) -> str:
    ret.refunded_amount += event.amount
    # The first refund starts the clock units_not_arrived counts from; later ones add money.
    ret.refunded_at = ret.refunded_at or event.occurred_at or timezone.now()
    ret.save(update_fields=["refunded_amount", "refunded_at", "updated_at"])
    _mark_refunded(ret, delivery)
    ref = f" ({event.reference})" if event.reference else ""
    return f"Platform refunded {event.amount} {event.currency}{ref}" + _after_posting(ret)


def _credited(ret: Return, event: ev.CreditIssued, delivery) -> str:
    liability, created = StoreCreditLiability.objects.get_or_create(
        return_ref=ret,
        reference=event.reference,
        defaults={
            "kind": event.kind,
            "amount": event.amount,
            "currency": event.currency,
            "issued_at": event.occurred_at,
        },
    )
    if created:
        ret.store_credit_amount += event.amount
        ret.save(update_fields=["store_credit_amount", "updated_at"])
        _mark_refunded(ret, delivery)
    kind = liability.get_kind_display().lower()
    return (
        f"Platform issued {kind} {event.reference} of {event.amount} {event.currency}"
        + _after_posting(ret)
    )


def _after_posting(ret: Return) -> str:
    """A settlement that arrives once Khaos has the document cannot hold it any more."""
    if not units.has_posted(ret):
        return ""
    return "; the return had already posted, so any difference goes to reconciliation"


def _mark_refunded(ret: Return, delivery) -> None:
    if ret.money_state == MoneyState.PENDING:
        move_return(
            ret, "money_state", MoneyState.REFUNDED, cause=Cause.PLATFORM, delivery=delivery
        )


def _finished(ret: Return, target: str, delivery) -> str:
    ret.__dict__.pop("_unit_cache", None)  # units are moved below by their own saves
    if not allowed(RETURN_TRANSITIONS, ret.state, target):
        return f"Platform says {target}, but the return is already {ret.state}: not applied"
    units.cancel(ret, _by(delivery))
    move_return(ret, "state", target, cause=Cause.PLATFORM, delivery=delivery)
    return f"Platform reports the return {target}"


def _cancelled(ret: Return, event: ev.ReturnCancelled, delivery) -> str:
    return _finished(ret, ReturnState.CANCELLED, delivery)


def _expired(ret: Return, event: ev.ReturnExpired, delivery) -> str:
    return _finished(ret, ReturnState.EXPIRED, delivery)


def _shipment(ret: Return, event: ev.ShipmentAnnounced, delivery) -> str:
    shipment, _ = InboundShipment.objects.get_or_create(
        connection=ret.connection,
        reference=event.reference,
        defaults={
            "po_number": event.po_number,
            "carrier": event.carrier,
            "tracking": event.tracking,
            "departed_at": event.departed_at,
        },
    )
    count = _units(ret, event.unit_ids).update(shipment=shipment)
    for unit in _cached_units(ret, event.unit_ids):
        unit.shipment = shipment
    _advance(ret, event.unit_ids, UnitState.IN_TRANSIT, delivery)
    return f"{count} unit(s) expected on shipment {event.reference}"


HANDLERS = {
    ev.ReturnOpened: _opened,
    ev.UnitsInTransit: _in_transit,
    ev.UnitsReceived: _received,
    ev.UnitGraded: _graded,
    ev.UnitGradeUnread: _grade_unread,
    ev.LabelUpdated: _label,
    ev.RefundIssued: _refunded,
    ev.CreditIssued: _credited,
    ev.ReturnCancelled: _cancelled,
    ev.ReturnExpired: _expired,
    ev.ShipmentAnnounced: _shipment,
}
