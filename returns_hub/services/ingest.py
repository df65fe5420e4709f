"""Applies the hub's return events to returns, one return at a time."""

from __future__ import annotations

from django.db import transaction

from returns_hub.choices import Cause
from returns_hub.events import ReturnEvent, ReturnOpened
from returns_hub.models import InboxDelivery, PlatformConnection, Return, ReturnUnit
from returns_hub.services import timeline


def associated_ref(connection: PlatformConnection, external_id: str) -> str:
    ref = f"{connection.spec.ref_prefix}-{external_id}"
    if len(ref) > 50:
        raise ValueError(f"AssociatedRef {ref!r} is longer than Khaos's 50 characters")
    return ref


@transaction.atomic
def apply(
    connection: PlatformConnection, event: ReturnEvent, *, delivery: InboxDelivery | None = None
) -> Return:
    """Apply one event. Events for one return are serialised by a row lock."""
    ret = _locked_return(connection, event)
    if timeline.seen(ret, event.event_key):
        return ret  # the same event again (a redelivery, or a poll after a webhook)
    if isinstance(event, ReturnOpened):
        _apply_opened(ret, event, delivery)
    else:
        raise TypeError(f"no handler for {type(event).__name__}")
    return ret


def _locked_return(connection: PlatformConnection, event: ReturnEvent) -> Return:
    defaults = {
        "associated_ref": associated_ref(connection, event.external_id),
        "currency": getattr(event, "currency", "GBP"),
    }
    ret, _ = Return.objects.get_or_create(
        connection=connection, external_id=event.external_id, defaults=defaults
    )
    return Return.objects.select_for_update().get(pk=ret.pk)


def _apply_opened(ret: Return, event: ReturnOpened, delivery: InboxDelivery | None) -> None:
    created = not ret.units.exists() and not ret.order_ref
    ret.order_ref = ret.order_ref or event.order_ref
    ret.customer_email = ret.customer_email or event.customer_email.strip().lower()
    ret.customer_name = ret.customer_name or event.customer_name
    ret.address = ret.address or event.address
    ret.currency = event.currency
    ret.platform_state = event.platform_state
    if event.occurred_at and ret.platform_created_at is None:
        ret.platform_created_at = event.occurred_at
    ret.save()

    known = set(ret.units.values_list("external_id", flat=True))
    new_units = [
        ReturnUnit(
            return_ref=ret,
            external_id=unit.external_id,
            platform_sku=unit.platform_sku,
            barcode=unit.barcode,
            title=unit.title,
            price=unit.price,
            discount=unit.discount,
            tax=unit.tax,
            reason=unit.reason,
            outcome=unit.outcome,
        )
        for unit in event.units
        if unit.external_id not in known
    ]
    ReturnUnit.objects.bulk_create(new_units)
    count = len(new_units)
    message = (
        f"Return opened with {count} unit{'s' if count != 1 else ''}"
        if created
        else f"Return seen again; {count} new unit{'s' if count != 1 else ''}"
    )
    timeline.record(
        ret,
        "opened" if created else "updated",
        message,
        cause=Cause.PLATFORM,
        delivery=delivery,
        event_key=event.event_key,
        to_state=ret.state,
        details={"platform_state": event.platform_state},
    )
