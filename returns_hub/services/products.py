"""The Khaos product master: applying a StockUpload, keyed by StockID."""

from __future__ import annotations

import re
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


def _flag(options: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = options.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    if value is None or isinstance(value, bool | int | Decimal):
        return bool(value)
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
    # Every item is read, and refused with its field named, before anything is written.
    read = [_read_item(item, f"Items[{index}]") for index, item in enumerate(items)]
    gone = [_deleted_id(entry, f"Deleted[{index}]") for index, entry in enumerate(deleted)]
    named = {stock_id for stock_id, _, _ in read} | set(gone)
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
    for stock_id, values, codes in read:
        _apply_item(stock_id, values, codes, products, barcodes, result)
    ids = {products[s].pk for s in gone if s in products and not products[s].deleted}
    if ids:
        result.deleted = KhaosProduct.objects.filter(pk__in=ids).update(deleted=True)
    return result


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


def _apply_item(
    stock_id: str, values: dict, codes: list[str], products: dict, barcodes: dict, result
) -> None:
    code = values["stock_code"]
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
    _sync_barcodes(product, barcodes[product.pk], codes)


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
    return _number(value, where, LEVEL_LIMIT)


def _site(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise StockUploadError(f"{where} must be a whole number, got {_kind(value)}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= SITE_LIMIT):
        raise StockUploadError(f"{where} must be a whole number from 0 to {SITE_LIMIT}")
    return int(text)


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
        _code(status["StockID"], f"Statuses[{index}].StockID", 20)
        _site(status["SiteID"], f"Statuses[{index}].SiteID")
    named = {str(status["StockID"]).strip() for status in statuses}
    products = {p.stock_id: p for p in KhaosProduct.objects.filter(stock_id__in=named)}
    levels = {
        (level.product_id, level.site_id): level
        for level in StockLevel.objects.filter(product__in=list(products.values()))
    }
    changed = 0
    for index, status in enumerate(statuses):
        where = f"Statuses[{index}]"
        product = products.get(str(status["StockID"]).strip())
        if product is None:
            raise StockUploadError(
                f"{where}: StockID {status['StockID']} is not in the product master; "
                "send the StockUpload first"
            )
        site_id = _site(status["SiteID"], f"{where}.SiteID")
        levels_sent = status.get("Levels") or {}  # an empty <Levels/> in XML is ""
        if not isinstance(levels_sent, Mapping):
            raise StockUploadError(f"{where}.Levels must be an object, got {_kind(levels_sent)}")
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
