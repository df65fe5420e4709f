"""Generated returns for benchmarks, end-to-end tests and the demo's volume.

Each generated return is graded, resolved through the real mapping tables and
product master, and carries a ready posting built by the real document
builder, so what Khaos downloads is exactly what the engine would have made.
Rows are written in bulk, a batch at a time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from returns_hub import documents
from returns_hub.choices import MoneyState, PostingKind, ReturnState, UnitState
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosProduct,
    PlatformConnection,
    Posting,
    Return,
    ReturnUnit,
)
from returns_hub.money import to_pennies
from returns_hub.services import khaos_documents, postings
from returns_hub.services.ingest import associated_ref


def generate(
    connection: PlatformConnection,
    count: int,
    *,
    prefix: str = "GEN",
    batch: int = 1000,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Make ``count`` graded returns with ready postings. Returns how many were made."""
    rng = random.Random(seed)
    channel = connection.khaos_channel
    products = list(
        KhaosProduct.objects.filter(deleted=False, discontinued=False)
        .exclude(sell_price_gross__isnull=True)
        .order_by("stock_id")
    )
    dispositions = list(
        DispositionMapping.objects.filter(platform=connection.platform)
        .exclude(disposition__in=["keep_item", "donate"])
        .select_related("khaos_return_reason")
        .order_by("id")
    )
    customers = list(CustomerMapping.objects.order_by("id").values_list("email", "urn"))
    if not (products and dispositions and customers and channel):
        raise ValueError("generation needs products, a disposition table, customers and a channel")
    made = 0
    for chunk in _chunks(count, batch):
        with transaction.atomic():
            made += _batch(
                connection, channel, chunk, prefix, made, rng, products, dispositions, customers
            )
        if progress:
            progress(made)
    return made


def _chunks(count: int, size: int) -> Iterator[int]:
    while count > 0:
        yield min(size, count)
        count -= size


def _batch(connection, channel, size, prefix, offset, rng, products, dispositions, customers):
    now = timezone.now()
    returns, units_per_return = [], []
    for n in range(offset, offset + size):
        email, _ = customers[n % len(customers)]
        external_id = f"{prefix}{n:08d}"
        returns.append(
            Return(
                connection=connection,
                external_id=external_id,
                associated_ref=associated_ref(connection, external_id),
                order_ref=str(100000 + n),
                customer_email=email,
                customer_name="Generated Customer",
                currency="GBP",
                address={
                    "line1": f"{n % 200 + 1} High Street",
                    "town": "York",
                    "postcode": "YO1 7HH",
                    "country_code": "GB",
                },
                state=ReturnState.GRADED,
                money_state=MoneyState.POSTED,
                platform_created_at=now - timedelta(minutes=n % 10000),
            )
        )
        units_per_return.append(
            [(rng.choice(products), rng.choice(dispositions)) for _ in range(rng.randint(1, 3))]
        )
    Return.objects.bulk_create(returns)
    units, made = [], []
    urns = dict(customers)
    for ret, picks in zip(returns, units_per_return, strict=True):
        ret.connection = connection
        lines = []
        for index, (product, mapping) in enumerate(picks):
            gross = product.sell_price_gross
            tax = to_pennies(gross / 6) if product.tax_rate_id == "1" else to_pennies(gross * 0)
            units.append(
                ReturnUnit(
                    return_ref=ret,
                    external_id=str(index),
                    platform_sku=product.stock_code,
                    price=gross - tax,
                    tax=tax,
                    reason="Too big",
                    outcome="refund",
                    condition="",
                    disposition=mapping.disposition,
                    state=UnitState.GRADED,
                    product=product,
                    khaos_return_reason=mapping.khaos_return_reason,
                    site_id=mapping.site_id,
                    received_at=now,
                    graded_at=now,
                )
            )
            lines.append(
                khaos_documents.ReturnLine(
                    product.stock_code, mapping.khaos_return_reason_id, gross, ret.order_ref
                )
            )
        document = khaos_documents.customer_return(
            ret, urn=urns[ret.customer_email], lines=lines, process=True
        )
        made.append(
            Posting(
                channel=channel,
                return_ref=ret,
                kind=PostingKind.RETURN,
                platform=connection.platform,
                associated_ref=ret.associated_ref,
                document=documents.dumps(document),
                process_return=True,
                currency="GBP",
                expected_credit=sum((line.unit_price for line in lines), start=gross * 0),
            )
        )
    ReturnUnit.objects.bulk_create(units)
    postings.create_ready(made, now=now)
    return size
