"""Fixing a cause re-evaluates what it held: no one has to press retry.

A change to a mapping row, the product master, stock levels or a channel
queues one re-evaluation per transaction of the returns held by the kinds of
exception that change could clear, whether it came through the admin, the
API, an import or a Khaos upload.
"""

from __future__ import annotations

import threading

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django_q.tasks import async_task

from returns_hub import models
from returns_hub.choices import ExceptionKind as K

SKU = [K.UNKNOWN_SKU, K.INACTIVE_SKU, K.EXCHANGE_UNAVAILABLE]
CLEARS: dict[type, list[str]] = {
    models.SkuMapping: SKU,
    models.KhaosProduct: SKU,
    models.ProductBarcode: SKU,
    models.StockCodeHistory: SKU,
    # Stock decides whether an exchange can be placed, so it moves every case on one.
    models.StockLevel: [K.EXCHANGE_UNAVAILABLE, K.UNKNOWN_CUSTOMER, K.CHANNEL_INCOMPLETE],
    models.ReasonMapping: [K.UNMAPPED_REASON],
    models.DispositionMapping: [K.UNMAPPED_DISPOSITION],
    models.KhaosReturnReason: [K.UNMAPPED_REASON, K.UNMAPPED_DISPOSITION],
    models.CustomerMapping: [K.UNKNOWN_CUSTOMER, K.INCOMPLETE_ADDRESS],
    models.KhaosChannel: [K.UNKNOWN_CUSTOMER, K.EXCHANGE_UNAVAILABLE, K.CHANNEL_INCOMPLETE],
    models.PlatformConnection: [K.CHANNEL_INCOMPLETE, K.SETTLEMENT_MISSING, K.VALUE_MISMATCH],
}
# A connection is saved after every poll: only these fields can clear a cause.
RELEVANT_FIELDS = {
    models.PlatformConnection: {"khaos_channel", "settlement_wait_hours", "value_tolerance"},
}

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


def connect() -> None:
    for model in CLEARS:
        post_save.connect(_changed, sender=model, dispatch_uid=f"reevaluate-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"reevaluate-del-{model.__name__}")
