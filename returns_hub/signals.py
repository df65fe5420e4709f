"""Fixing a cause re-evaluates what it held: no one has to press retry.

A change to a mapping row, the product master, stock levels or a channel
queues one re-evaluation per transaction of the returns held by the kinds of
exception that change could clear, whether it came through the admin, the
API, an import or a Khaos upload. A customer row (email → URN, name and address)
can only clear what holds that customer's returns, so it re-evaluates those alone
(every held return of its kinds when one transaction changes very many rows).
"""

from __future__ import annotations

import threading

from django.db import transaction
from django.db.models.functions import Lower, Trim
from django.db.models.signals import post_delete, post_save
from django_q.tasks import async_task

from returns_hub import models
from returns_hub.choices import ExceptionKind as K
from returns_hub.choices import ExceptionStatus
from returns_hub.models.mappings import normalise_email

# A product that goes can leave an exchange unavailable rather than held for its customer
# or address: those cases close once its return is evaluated again.
SKU = [
    K.UNKNOWN_SKU,
    K.INACTIVE_SKU,
    K.EXCHANGE_UNAVAILABLE,
    K.UNKNOWN_CUSTOMER,
    K.INCOMPLETE_ADDRESS,
]
CLEARS: dict[type, list[str]] = {
    models.SkuMapping: SKU,
    models.KhaosProduct: SKU,
    models.ProductBarcode: SKU,
    models.StockCodeHistory: SKU,
    # Stock decides whether an exchange can be placed, so it moves every case on one.
    models.StockLevel: [
        K.EXCHANGE_UNAVAILABLE,
        K.UNKNOWN_CUSTOMER,
        K.INCOMPLETE_ADDRESS,
        K.CHANNEL_INCOMPLETE,
    ],
    models.ReasonMapping: [K.UNMAPPED_REASON],
    models.DispositionMapping: [K.UNMAPPED_DISPOSITION],
    models.KhaosReturnReason: [K.UNMAPPED_REASON, K.UNMAPPED_DISPOSITION],
    models.CustomerMapping: [K.UNKNOWN_CUSTOMER, K.INCOMPLETE_ADDRESS],
    # An exchange held for its customer or address may now wait for the channel instead.
    models.KhaosChannel: [
        K.UNKNOWN_CUSTOMER,
        K.INCOMPLETE_ADDRESS,
        K.EXCHANGE_UNAVAILABLE,
        K.CHANNEL_INCOMPLETE,
    ],
    models.PlatformConnection: [K.CHANNEL_INCOMPLETE, K.SETTLEMENT_MISSING, K.VALUE_MISMATCH],
}
# A connection is saved after every poll: only these fields can clear a cause.
RELEVANT_FIELDS = {
    models.PlatformConnection: {"khaos_channel", "settlement_wait_hours", "value_tolerance"},
}

# More customer rows than this in one transaction (an import of Khaos's customer
# export): one task re-evaluates every held return of the kinds instead.
MAX_EMAILS = 200
REEVALUATE_BATCH = 100  # returns per task, as tasks.reevaluate_held queues them

_local = threading.local()


def _flush() -> None:
    kinds = sorted(getattr(_local, "kinds", ()))
    _local.kinds = set()
    if kinds:
        async_task("returns_hub.tasks.reevaluate_held", kinds, group="reevaluate")


def queue_reevaluation(kinds: list[str]) -> None:
    """Once per transaction, however many rows changed in it: the first commit
    callback takes every kind gathered so far and the others find nothing left.
    (Kinds gathered in a transaction that rolled back ride along with the next
    commit: one extra, harmless, re-evaluation.)"""
    if not getattr(_local, "kinds", None):
        _local.kinds = set()
    _local.kinds.update(kinds)
    transaction.on_commit(_flush)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    fields, relevant = kwargs.get("update_fields"), RELEVANT_FIELDS.get(sender)
    if relevant and fields is not None and not relevant & set(fields):
        return
    queue_reevaluation(CLEARS[sender])


def held_for_customers(emails: set[str]) -> list[int]:
    """Returns of these customers (emails as the customer table keeps them) held by a
    case a customer row can clear."""
    return list(
        models.ExceptionCase.objects.filter(
            status=ExceptionStatus.OPEN,
            kind__in=CLEARS[models.CustomerMapping],
            return_ref__isnull=False,
        )
        .annotate(customer=Lower(Trim("return_ref__customer_email")))
        .filter(customer__in=sorted(emails))
        .order_by("return_ref_id")
        .values_list("return_ref_id", flat=True)
        .distinct()
    )


def _flush_customers() -> None:
    emails = getattr(_local, "emails", set())
    _local.emails = set()
    if not emails:
        return
    if len(emails) > MAX_EMAILS:
        kinds = sorted(CLEARS[models.CustomerMapping])
        async_task("returns_hub.tasks.reevaluate_held", kinds, group="reevaluate")
        return
    ids = held_for_customers(emails)
    for start in range(0, len(ids), REEVALUATE_BATCH):
        async_task(
            "returns_hub.tasks.reevaluate",
            ids[start : start + REEVALUATE_BATCH],
            group="reevaluate",
        )


def queue_customer_reevaluation(emails: set[str]) -> None:
    """Once per transaction, like ``queue_reevaluation``: the returns of these customers
    held by unknown_customer or incomplete_address, evaluated again after the commit."""
    if not getattr(_local, "emails", None):
        _local.emails = set()
    _local.emails.update(email for email in emails if email)
    transaction.on_commit(_flush_customers)


def _customer_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    queue_customer_reevaluation({normalise_email(instance.email)})


def connect() -> None:
    for model in CLEARS:
        handler = _customer_changed if model is models.CustomerMapping else _changed
        post_save.connect(handler, sender=model, dispatch_uid=f"reevaluate-{model.__name__}")
        post_delete.connect(handler, sender=model, dispatch_uid=f"reevaluate-del-{model.__name__}")
