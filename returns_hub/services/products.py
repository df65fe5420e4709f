"""The Khaos product master: applying a StockUpload, keyed by StockID."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from returns_hub.models import KhaosProduct, ProductBarcode, StockCodeHistory, StockLevel
from returns_hub.signals import CLEARS, queue_reevaluation


class StockUploadError(ValueError):
    """The upload is not a StockUpload Khaos would send; nothing was stored."""


logger = logging.getLogger(__name__)


@dataclass
class StockUploadResult:
    created: int = 0
    updated: int = 0
    renamed: int = 0
    deleted: int = 0


@dataclass
class StockStatusResult:
    changed: int = 0
    # StockIDs the product master does not have (yet): their statuses are not kept.
    unknown: list[str] = field(default_factory=list)


# Entries applied together: a few queries per batch, never one per entry. A batch is
# also cut after BATCH_BYTES of the push, where the entries say how much was read (see
# connectors.khaos.formats.Entries), so that items with long descriptions do not make
# a batch, and its queries, tens of megabytes.
BATCH = 500
BATCH_BYTES = 2 * 1024 * 1024


# Control characters (but tab, newline, CR), DEL and lone surrogates: no part of a code.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The columns' limits: StockID 20, Stock Code and barcode 50, tax rate 10 and 50.
PRICE_LIMIT = Decimal("1e10")  # 12 digits, 2 after the point
LEVEL_LIMIT = Decimal("1e11")  # 14 digits, 3 after the point
SITE_LIMIT = 2**31 - 1


def _code(value: Any, where: str, limit: int, *, required: bool = True) -> str:
    """An id or code as text (Khaos sends some as numbers); StockUploadError naming the
    field for anything else, so nothing like a list or an object becomes a code."""
    if value is None or value == "":
        if required:
            raise StockUploadError(f"{where} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StockUploadError(f"{where} must be text, got {_kind(value)}")
    text = str(value).strip()
    if CONTROL.search(text):
        raise StockUploadError(f"{where} contains a control character: {text[:40]!r}")
    if required and not text:
        raise StockUploadError(f"{where} is missing")
    if len(text) > limit:
        raise StockUploadError(f"{where} is longer than {limit} characters")
    return text


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _description(item: Mapping[str, Any], where: str) -> str:
    """Free text: control characters become spaces; cut to the column's 255."""
    texts = []
    for key in ("StockDescription", "ShortDescription"):
        value = item.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise StockUploadError(f"{where}.{key} must be text, got {_kind(value)}")
        texts.append(CONTROL.sub(" ", str(value)).strip()[:255])
    return texts[0] if texts else ""


# Khaos's XML says True/False, its JSON true/false; any case, and 1/0, are read.
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f"})


def _flag(options: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = options.get(key)
    if value is None or value == "":  # left out, or an empty <RunToZero/>
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise StockUploadError(
            f"{where}.Options.{key} must be true or false, got {value.strip()[:40]!r}"
        )
    if isinstance(value, int | Decimal) and value in (0, 1):
        return value == 1
    raise StockUploadError(f"{where}.Options.{key} must be true or false, got {_kind(value)}")


def _number(value: Any, where: str, limit: Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise StockUploadError(f"{where} must be a number, got {_kind(value)}")
    try:
        number = Decimal(str(value).strip())  # via str: never via float
    except InvalidOperation:
        raise StockUploadError(f"{where} must be a number, got {str(value)[:40]!r}") from None
    if not number.is_finite() or abs(number) >= limit:
        raise StockUploadError(f"{where} must be a number below {limit:,.0f}, got {number}")
    return number


def _price(item: Mapping[str, Any], where: str) -> Decimal | None:
    price = item.get("SellPrice") or {}
    if not isinstance(price, Mapping):
        raise StockUploadError(f"{where}.SellPrice must be an object, got {_kind(price)}")
    value = price.get("Gross")
    if value is None or value == "":
        return None
    return _number(value, f"{where}.SellPrice.Gross", PRICE_LIMIT).quantize(Decimal("0.01"))


def _barcodes(item: Mapping[str, Any], where: str) -> list[str]:
    entries = item.get("Barcodes") or []
    if isinstance(entries, Mapping):  # XML with a single barcode
        entries = [entries]
    if not isinstance(entries, list):
        raise StockUploadError(f"{where}.Barcodes must be a list, got {_kind(entries)}")
    codes = []
    for n, entry in enumerate(entries):
        code = entry.get("Barcode") if isinstance(entry, Mapping) else entry
        if code is not None and code != "":
            codes.append(_code(code, f"{where}.Barcodes[{n}]", 50))
    return codes


def _tax(item: Mapping[str, Any], where: str) -> tuple[str, str]:
    tax = item.get("TaxRate") or {}
    if not isinstance(tax, Mapping):
        raise StockUploadError(f"{where}.TaxRate must be an object, got {_kind(tax)}")
    return (
        _code(tax.get("ID"), f"{where}.TaxRate.ID", 10, required=False),
        _code(tax.get("Name"), f"{where}.TaxRate.Name", 50, required=False),
    )


def _deleted_id(entry: Any, where: str) -> str:
    """``Deleted`` lists plain StockIDs or ``{StockID}`` objects; either is read."""
    value = entry.get("StockID") if isinstance(entry, Mapping) else entry
    return _code(value, f"{where}.StockID" if isinstance(entry, Mapping) else where, 20)


def _same(stored: Any, new: Any) -> bool:
    """Equal as Khaos meant it: decimals as decimals, since ``raw`` keeps them as text."""
    kind = type(new)
    if kind is str or kind is bool or kind is int or new is None:  # most of a raw item
        return type(stored) is kind and stored == new
    if kind is dict and type(stored) is dict:  # read from JSON or XML, and from the column
        return stored.keys() == new.keys() and all(
            _same(stored[key], value) for key, value in new.items()
        )
    if isinstance(new, Decimal):
        if isinstance(stored, bool) or not isinstance(stored, str | int | Decimal):
            return False
        try:
            return Decimal(str(stored)) == new
        except InvalidOperation:
            return False
    if isinstance(new, Mapping):
        return (
            isinstance(stored, Mapping)
            and stored.keys() == new.keys()
            and all(_same(stored[key], value) for key, value in new.items())
        )
    if isinstance(new, list | tuple):
        return (
            isinstance(stored, list | tuple)
            and len(stored) == len(new)
            and all(map(_same, stored, new))
        )
    return type(stored) is type(new) and stored == new


@transaction.atomic
def apply_stock_upload(payload: Mapping[str, Any]) -> StockUploadResult:
    """Upsert every item by StockID, follow renamed codes, honour Deleted. Idempotent:
    an upload that says nothing new writes nothing, so it re-evaluates nothing."""
    if not isinstance(payload, Mapping):
        raise StockUploadError("a StockUpload is a JSON object with Items and Deleted")
    return apply_stock_parts([("Items", payload.get("Items")), ("Deleted", payload.get("Deleted"))])


@transaction.atomic
def apply_stock_parts(parts: Iterable[tuple[str, Any]]) -> StockUploadResult:
    """A StockUpload read a part at a time (``connectors.khaos.formats.parts``): ``Items``
    and ``Deleted`` as lists or iterators of their entries; other parts are not read.

    Items are applied a batch at a time (BATCH items, or BATCH_BYTES of the push) with a
    few queries each, so an upload of the whole product master costs queries per batch,
    never per item, and holds one batch of items at a time. Any refusal rolls the whole
    upload back: nothing of a refused upload is kept.
    """
    result = StockUploadResult()
    batch: dict[str, tuple[dict, list[str]]] = {}
    gone: list[str] = []
    count = 0
    for key, value in parts:
        if key == "Items":
            items = _entries(value, "Items")
            cut = _read_so_far(items) + BATCH_BYTES
            for item in items:
                stock_id, values, codes = _read_item(item, f"Items[{count}]")
                count += 1
                if stock_id in batch:  # named twice: its first naming is applied first
                    _apply_items(batch, result)
                    batch = {}
                batch[stock_id] = (values, codes)
                if len(batch) >= BATCH or _read_so_far(items) >= cut:
                    _apply_items(batch, result)
                    batch, cut = {}, _read_so_far(items) + BATCH_BYTES
        elif key == "Deleted":
            for entry in _entries(value, "Deleted"):
                gone.append(_deleted_id(entry, f"Deleted[{len(gone)}]"))
    _apply_items(batch, result)
    for start in range(0, len(gone), BATCH):
        # Read first: a push that deletes nothing new writes nothing.
        live = KhaosProduct.objects.filter(stock_id__in=gone[start : start + BATCH], deleted=False)
        ids = list(live.values_list("pk", flat=True))
        if ids:
            result.deleted += KhaosProduct.objects.filter(pk__in=ids).update(deleted=True)
    if result.created or result.updated or result.renamed or result.deleted:
        # Bulk writes send no post_save: what the products held is re-evaluated once.
        queue_reevaluation(CLEARS[KhaosProduct])
    return result


def _read_so_far(entries: Iterable[Any]) -> int:
    """How much of the push has been read, where the entries tell (else 0: by count)."""
    return getattr(entries, "consumed", 0)


def _entries(value: Any, name: str) -> Iterable[Any]:
    """A part that is a list: a list, or an iterator over its entries; nothing when empty."""
    if isinstance(value, list | Iterator):
        return value
    if not value:  # absent, null, or an empty <Items/> read as text
        return []
    raise StockUploadError(f"{name} must be a list, got {_kind(value)}")


def _apply_items(batch: dict[str, tuple[dict, list[str]]], result: StockUploadResult) -> None:
    """One batch of items, each StockID once: five queries at most, however many items."""
    if not batch:
        return
    products = {
        product.stock_id: product
        for product in KhaosProduct.objects.select_for_update().filter(stock_id__in=list(batch))
    }
    barcodes: dict[int, dict[str, int]] = defaultdict(dict)
    for pk, product_id, code in ProductBarcode.objects.filter(
        product__in=list(products.values())
    ).values_list("pk", "product_id", "barcode"):
        barcodes[product_id][code] = pk
    history, changed, fields = [], [], set()
    now = timezone.now()
    for stock_id, (values, _) in batch.items():
        product = products.get(stock_id)
        if product is None:
            continue  # created below
        if product.stock_code != values["stock_code"]:
            history.append(StockCodeHistory(product=product, stock_code=product.stock_code))
            result.renamed += 1
        names = [name for name, value in values.items() if not _same(getattr(product, name), value)]
        if names:
            for name in names:
                setattr(product, name, values[name])
            product.updated_at = now
            changed.append(product)
            fields.update(names)
    new = [
        KhaosProduct(stock_id=s, **values) for s, (values, _) in batch.items() if s not in products
    ]
    if new:
        # A product another push created meanwhile is updated, not refused.
        KhaosProduct.objects.bulk_create(
            new,
            update_conflicts=True,
            unique_fields=["stock_id"],
            update_fields=[*batch[new[0].stock_id][0], "updated_at"],
        )
        result.created += len(new)
        products.update((product.stock_id, product) for product in new)
    if history:
        StockCodeHistory.objects.bulk_create(history, ignore_conflicts=True)
    if changed:
        KhaosProduct.objects.bulk_update(changed, [*sorted(fields), "updated_at"])
        result.updated += len(changed)
    _sync_barcodes(batch, products, barcodes)


def _sync_barcodes(batch: dict, products: dict, barcodes: dict[int, dict[str, int]]) -> None:
    """Each product's barcodes as the batch lists them: one delete, one insert."""
    stale: list[int] = []
    added: list[ProductBarcode] = []
    for stock_id, (_, codes) in batch.items():
        product = products[stock_id]
        have, wanted = barcodes[product.pk], set(codes)
        stale.extend(pk for code, pk in have.items() if code not in wanted)
        added.extend(
            ProductBarcode(product=product, barcode=code) for code in sorted(wanted - set(have))
        )
    if stale:
        ProductBarcode.objects.filter(pk__in=stale).delete()
    if added:
        ProductBarcode.objects.bulk_create(added, ignore_conflicts=True)
        # bulk_create sends no post_save: a new barcode may resolve a held unit.
        queue_reevaluation(CLEARS[ProductBarcode])


def _read_item(item: Any, where: str) -> tuple[str, dict, list[str]]:
    """One StockItem as (StockID, the product's values, its barcodes); StockUploadError
    naming the field when a value is not one Khaos would send."""
    if not isinstance(item, Mapping):
        raise StockUploadError(f"{where} must be an object, got {_kind(item)}")
    if not item.get("StockID") or not item.get("StockCode"):
        raise StockUploadError(f"{where} needs a StockID and a StockCode")
    stock_id = _code(item["StockID"], f"{where}.StockID", 20)
    options = item.get("Options") or {}  # an empty <Options/> in XML is ""
    if not isinstance(options, Mapping):
        raise StockUploadError(f"{where}.Options must be an object, got {_kind(options)}")
    tax_id, tax_name = _tax(item, where)
    values = {
        "stock_code": _code(item["StockCode"], f"{where}.StockCode", 50),
        "description": _description(item, where),
        "publish_on_web": _flag(options, "PublishOnWeb", True, where),
        "discontinued": _flag(options, "Discontinued", False, where),
        "run_to_zero": _flag(options, "RunToZero", False, where),
        "stock_controlled": _flag(options, "StockControlled", True, where),
        "deleted": False,
        "tax_rate_id": tax_id,
        "tax_rate_name": tax_name,
        "sell_price_gross": _price(item, where),
        "raw": dict(item),
    }
    return stock_id, values, _barcodes(item, where)


def _level(value: Any, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    return _number(value, where, LEVEL_LIMIT)


def _site(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise StockUploadError(f"{where} must be a whole number, got {_kind(value)}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= SITE_LIMIT):
        raise StockUploadError(f"{where} must be a whole number from 0 to {SITE_LIMIT}")
    return int(text)


@transaction.atomic
def apply_stock_status(payload: Mapping[str, Any]) -> StockStatusResult:
    """Availability per product and site from a StockStatusUpload (see
    ``apply_stock_status_parts``)."""
    if not isinstance(payload, Mapping):
        raise StockUploadError("Statuses must be a list of objects")
    return apply_stock_status_parts([("Statuses", payload.get("Statuses"))])


@transaction.atomic
def apply_stock_status_parts(parts: Iterable[tuple[str, Any]]) -> StockStatusResult:
    """Availability per product and site from a StockStatusUpload read a part at a time.
    Idempotent: a level that is already as sent is not written (so re-evaluates nothing).

    A status without ``Levels`` (an item that is not stock-controlled) clears the
    level: availability is then not a constraint. A status for a StockID the product
    master does not have is not kept: its StockID is in ``unknown`` (and logged), and
    the rest of the push is applied, since Khaos sends a refused push again for ever.
    """
    result = StockStatusResult()
    unknown: dict[str, None] = {}  # in the order they came, once each
    batch: dict[tuple[str, int], dict] = {}
    count, listed = 0, False
    for key, value in parts:
        if key != "Statuses":
            continue
        if isinstance(value, Mapping):  # a single status sent as an object
            value = [value]
        if not isinstance(value, list | Iterator):
            raise StockUploadError("Statuses must be a list of objects")
        listed = True
        for status in value:
            stock_id, site_id, values = _read_status(status, f"Statuses[{count}]")
            count += 1
            if (stock_id, site_id) in batch or len(batch) >= BATCH:  # named twice: in order
                _apply_levels(batch, result, unknown)
                batch = {}
            batch[stock_id, site_id] = values
    if not listed:
        raise StockUploadError("Statuses must be a list of objects")
    _apply_levels(batch, result, unknown)
    result.unknown = list(unknown)
    if result.unknown:
        logger.warning(
            "stock statuses for StockIDs not in the product master were not kept",
            extra={"count": len(result.unknown), "stock_ids": result.unknown[:100]},
        )
    if result.changed:
        queue_reevaluation(CLEARS[StockLevel])  # bulk writes send no post_save
    return result


def _read_status(status: Any, where: str) -> tuple[str, int, dict]:
    if not isinstance(status, Mapping) or not status.get("StockID") or not status.get("SiteID"):
        raise StockUploadError(f"{where} needs a StockID and a SiteID")
    stock_id = _code(status["StockID"], f"{where}.StockID", 20)
    site_id = _site(status["SiteID"], f"{where}.SiteID")
    levels = status.get("Levels") or {}  # an empty <Levels/> in XML is ""
    if not isinstance(levels, Mapping):
        raise StockUploadError(f"{where}.Levels must be an object, got {_kind(levels)}")
    values = {
        "available": _level(levels.get("Available"), f"{where}.Levels.Available"),
        "on_order": _level(levels.get("OnOrder"), f"{where}.Levels.OnOrder"),
    }
    return stock_id, site_id, values


def _apply_levels(
    batch: dict[tuple[str, int], dict], result: StockStatusResult, unknown: dict[str, None]
) -> None:
    """One batch of statuses, each (StockID, site) once: four queries at most."""
    if not batch:
        return
    products = dict(
        KhaosProduct.objects.filter(stock_id__in={s for s, _ in batch}).values_list(
            "stock_id", "pk"
        )
    )
    levels = {
        (level.product_id, level.site_id): level
        for level in StockLevel.objects.filter(product_id__in=list(products.values()))
    }
    new, changed = [], []
    now = timezone.now()
    for (stock_id, site_id), values in batch.items():
        product_id = products.get(stock_id)
        if product_id is None:
            unknown[stock_id] = None
            continue
        level = levels.get((product_id, site_id))
        if level is None:
            new.append(StockLevel(product_id=product_id, site_id=site_id, **values))
        elif any(getattr(level, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(level, name, value)
            level.updated_at = now
            changed.append(level)
    if new:
        # A level another push created meanwhile is updated, not refused.
        StockLevel.objects.bulk_create(
            new,
            update_conflicts=True,
            unique_fields=["product", "site_id"],
            update_fields=["available", "on_order", "updated_at"],
        )
    if changed:
        StockLevel.objects.bulk_update(changed, ["available", "on_order", "updated_at"])
    result.changed += len(new) + len(changed)
