"""The Khaos product master: applying a StockUpload, keyed by StockID."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from returns_hub.models import KhaosProduct, ProductBarcode, StockCodeHistory, StockLevel
from returns_hub.signals import CLEARS, queue_reevaluation


class StockUploadError(ValueError):
    """The upload is not a StockUpload Khaos would send; nothing was stored."""


@dataclass
class StockUploadResult:
    created: int = 0
    updated: int = 0
    renamed: int = 0
    deleted: int = 0


def _flag(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _price(item: Mapping[str, Any]) -> Decimal | None:
    price = item.get("SellPrice") or {}
    value = price.get("Gross") if isinstance(price, Mapping) else None
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))  # via str: never via float
    except InvalidOperation:
        raise StockUploadError(
            f"SellPrice.Gross of {item.get('StockCode')!r} is not a number"
        ) from None


def _barcodes(item: Mapping[str, Any]) -> list[str]:
    codes = []
    for entry in item.get("Barcodes") or []:
        code = entry.get("Barcode") if isinstance(entry, Mapping) else entry
        if code:
            codes.append(str(code).strip())
    return codes


def _same(stored: Any, new: Any) -> bool:
    """Equal as Khaos meant it: decimals as decimals, since ``raw`` keeps them as text."""
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
    items = payload.get("Items") or []
    deleted = payload.get("Deleted") or []
    if not isinstance(items, list) or not isinstance(deleted, list):
        raise StockUploadError("Items and Deleted must be lists")
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("StockID") or not item.get("StockCode"):
            raise StockUploadError(f"Items[{index}] needs a StockID and a StockCode")
    gone = [str(entry.get("StockID")).strip() for entry in deleted if isinstance(entry, Mapping)]
    named = {str(item["StockID"]).strip() for item in items} | set(gone)
    # Two queries for the whole upload, however many items it has.
    products = {
        product.stock_id: product
        for product in KhaosProduct.objects.select_for_update().filter(stock_id__in=named)
    }
    barcodes: dict[int, set[str]] = defaultdict(set)
    for product_id, code in ProductBarcode.objects.filter(
        product__in=list(products.values())
    ).values_list("product_id", "barcode"):
        barcodes[product_id].add(code)
    result = StockUploadResult()
    for item in items:
        _apply_item(item, products, barcodes, result)
    ids = {products[s].pk for s in gone if s in products and not products[s].deleted}
    if ids:
        result.deleted = KhaosProduct.objects.filter(pk__in=ids).update(deleted=True)
    return result


def _apply_item(item: Mapping[str, Any], products: dict, barcodes: dict, result) -> None:
    stock_id = str(item["StockID"]).strip()
    code = str(item["StockCode"]).strip()
    options = item.get("Options") or {}
    if not isinstance(options, Mapping):
        options = {}  # an empty <Options/> in XML
    tax = item.get("TaxRate") or {}
    values = {
        "stock_code": code,
        "description": str(item.get("StockDescription") or item.get("ShortDescription") or "")[
            :255
        ],
        "publish_on_web": _flag(options, "PublishOnWeb", True),
        "discontinued": _flag(options, "Discontinued", False),
        "run_to_zero": _flag(options, "RunToZero", False),
        "stock_controlled": _flag(options, "StockControlled", True),
        "deleted": False,
        "tax_rate_id": str(tax.get("ID") or "") if isinstance(tax, Mapping) else "",
        "tax_rate_name": str(tax.get("Name") or "") if isinstance(tax, Mapping) else "",
        "sell_price_gross": _price(item),
        "raw": dict(item),
    }
    product = products.get(stock_id)
    if product is None:
        product = products[stock_id] = KhaosProduct.objects.create(stock_id=stock_id, **values)
        result.created += 1
    else:
        if product.stock_code != code:
            StockCodeHistory.objects.get_or_create(product=product, stock_code=product.stock_code)
            result.renamed += 1
        changed = [
            name for name, value in values.items() if not _same(getattr(product, name), value)
        ]
        if changed:
            for name in changed:
                setattr(product, name, values[name])
            product.save(update_fields=[*changed, "updated_at"])
            result.updated += 1
    _sync_barcodes(product, barcodes[product.pk], _barcodes(item))


def _sync_barcodes(product: KhaosProduct, have: set[str], codes: Iterable[str]) -> None:
    wanted = set(codes)
    if wanted == have:
        return
    if have - wanted:
        product.barcodes.filter(barcode__in=have - wanted).delete()
    if wanted - have:
        ProductBarcode.objects.bulk_create(
            [ProductBarcode(product=product, barcode=code) for code in sorted(wanted - have)],
            ignore_conflicts=True,
        )
        # bulk_create sends no post_save: a new barcode may resolve a held unit.
        queue_reevaluation(CLEARS[ProductBarcode])
    have.clear()
    have.update(wanted)


def _level(value: Any, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StockUploadError(f"{where} must be a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise StockUploadError(f"{where} must be a number, got {value!r}") from None


@transaction.atomic
def apply_stock_status(payload: Mapping[str, Any]) -> int:
    """Availability per product and site from a StockStatusUpload. Idempotent: a
    level that is already as sent is not written (so re-evaluates nothing).

    A status without ``Levels`` (an item that is not stock-controlled) clears
    the level: availability is then not a constraint.
    """
    statuses = payload.get("Statuses") if isinstance(payload, Mapping) else None
    if not isinstance(statuses, list):
        raise StockUploadError("a StockStatusUpload is a JSON object with a Statuses list")
    for index, status in enumerate(statuses):
        if not isinstance(status, Mapping) or not status.get("StockID") or not status.get("SiteID"):
            raise StockUploadError(f"Statuses[{index}] needs a StockID and a SiteID")
    named = {str(status["StockID"]) for status in statuses}
    products = {p.stock_id: p for p in KhaosProduct.objects.filter(stock_id__in=named)}
    levels = {
        (level.product_id, level.site_id): level
        for level in StockLevel.objects.filter(product__in=list(products.values()))
    }
    changed = 0
    for index, status in enumerate(statuses):
        where = f"Statuses[{index}]"
        product = products.get(str(status["StockID"]))
        if product is None:
            raise StockUploadError(
                f"{where}: StockID {status['StockID']} is not in the product master; "
                "send the StockUpload first"
            )
        try:
            site_id = int(status["SiteID"])
        except (TypeError, ValueError):
            raise StockUploadError(f"{where}.SiteID must be a whole number") from None
        levels_sent = status.get("Levels") or {}
        if not isinstance(levels_sent, Mapping):
            levels_sent = {}  # an empty <Levels/> in XML
        values = {
            "available": _level(levels_sent.get("Available"), f"{where}.Levels.Available"),
            "on_order": _level(levels_sent.get("OnOrder"), f"{where}.Levels.OnOrder"),
        }
        level = levels.get((product.pk, site_id))
        if level is None:
            levels[product.pk, site_id] = StockLevel.objects.create(
                product=product, site_id=site_id, **values
            )
            changed += 1
        elif any(getattr(level, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(level, name, value)
            level.save(update_fields=[*values, "updated_at"])
            changed += 1
    return changed
