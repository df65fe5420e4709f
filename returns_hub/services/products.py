"""The Khaos product master: applying a StockUpload, keyed by StockID."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from returns_hub.models import KhaosProduct, ProductBarcode, StockCodeHistory, StockLevel


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


@transaction.atomic
def apply_stock_upload(payload: Mapping[str, Any]) -> StockUploadResult:
    """Upsert every item by StockID, follow renamed codes, honour Deleted. Idempotent."""
    if not isinstance(payload, Mapping):
        raise StockUploadError("a StockUpload is a JSON object with Items and Deleted")
    items = payload.get("Items") or []
    deleted = payload.get("Deleted") or []
    if not isinstance(items, list) or not isinstance(deleted, list):
        raise StockUploadError("Items and Deleted must be lists")
    result = StockUploadResult()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("StockID") or not item.get("StockCode"):
            raise StockUploadError(f"Items[{index}] needs a StockID and a StockCode")
        _apply_item(item, result)
    ids = [str(entry.get("StockID")) for entry in deleted if isinstance(entry, Mapping)]
    result.deleted = KhaosProduct.objects.filter(stock_id__in=ids, deleted=False).update(
        deleted=True
    )
    return result


def _apply_item(item: Mapping[str, Any], result: StockUploadResult) -> None:
    stock_id = str(item["StockID"]).strip()
    code = str(item["StockCode"]).strip()
    options = item.get("Options") or {}
    tax = item.get("TaxRate") or {}
    values = {
        "stock_code": code,
        "description": str(item.get("StockDescription") or item.get("ShortDescription") or "")[
            :255
        ],
        "publish_on_web": _flag(options, "PublishOnWeb", True),
        "discontinued": _flag(options, "Discontinued", False),
        "stock_controlled": _flag(options, "StockControlled", True),
        "deleted": False,
        "tax_rate_id": str(tax.get("ID") or "") if isinstance(tax, Mapping) else "",
        "tax_rate_name": str(tax.get("Name") or "") if isinstance(tax, Mapping) else "",
        "sell_price_gross": _price(item),
        "raw": dict(item),
    }
    product = KhaosProduct.objects.select_for_update().filter(stock_id=stock_id).first()
    if product is None:
        product = KhaosProduct.objects.create(stock_id=stock_id, **values)
        result.created += 1
    else:
        if product.stock_code != code:
            StockCodeHistory.objects.get_or_create(product=product, stock_code=product.stock_code)
            result.renamed += 1
        changed = [name for name, value in values.items() if getattr(product, name) != value]
        if changed:
            for name in changed:
                setattr(product, name, values[name])
            product.save(update_fields=[*changed, "updated_at"])
            result.updated += 1
    _sync_barcodes(product, _barcodes(item))


def _sync_barcodes(product: KhaosProduct, codes: Iterable[str]) -> None:
    wanted = set(codes)
    have = set(product.barcodes.values_list("barcode", flat=True))
    if wanted == have:
        return
    product.barcodes.filter(barcode__in=have - wanted).delete()
    ProductBarcode.objects.bulk_create(
        [ProductBarcode(product=product, barcode=code) for code in sorted(wanted - have)],
        ignore_conflicts=True,
    )


def _level(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise StockUploadError(f"{where} must be a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise StockUploadError(f"{where} must be a number, got {value!r}") from None


@transaction.atomic
def apply_stock_status(payload: Mapping[str, Any]) -> int:
    """Availability per product and site from a StockStatusUpload. Idempotent.

    A status without ``Levels`` (an item that is not stock-controlled) clears
    the level: availability is then not a constraint.
    """
    statuses = payload.get("Statuses") if isinstance(payload, Mapping) else None
    if not isinstance(statuses, list):
        raise StockUploadError("a StockStatusUpload is a JSON object with a Statuses list")
    changed = 0
    for index, status in enumerate(statuses):
        where = f"Statuses[{index}]"
        if not isinstance(status, Mapping) or not status.get("StockID") or not status.get("SiteID"):
            raise StockUploadError(f"{where} needs a StockID and a SiteID")
        product = KhaosProduct.objects.filter(stock_id=str(status["StockID"])).first()
        if product is None:
            raise StockUploadError(f"{where}: StockID {status['StockID']} is not in the product "
                                   "master; send the StockUpload first")  # fmt: skip
        levels = status.get("Levels") or {}
        values = {
            "available": _level(levels.get("Available"), f"{where}.Levels.Available"),
            "on_order": _level(levels.get("OnOrder"), f"{where}.Levels.OnOrder"),
        }
        level, created = StockLevel.objects.get_or_create(
            product=product, site_id=int(status["SiteID"]), defaults=values
        )
        if not created and any(getattr(level, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(level, name, value)
            level.save()
            changed += 1
        changed += created
    return changed
