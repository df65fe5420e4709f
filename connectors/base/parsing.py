"""Field readers for parsers: lenient to added fields, strict on what they use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base.errors import ParseError

CENT = Decimal("0.01")


def require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise ParseError(f"{where} must be an object")
    if key not in obj or obj[key] is None:
        raise ParseError(f"{where}.{key} is missing")
    return obj[key]


def text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    if not isinstance(obj, Mapping):
        raise ParseError(f"{where} must be an object")
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"{where}.{key} must be text, got {type(value).__name__}")
    return str(value).strip()


def money(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Decimal:
    """A decimal string (or whole number) to a Decimal of pence precision.

    JSON floats are refused: they cannot carry money exactly.
    """
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None or value == "":
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return Decimal("0.00")
    if isinstance(value, bool | float):
        raise ParseError(f"{where}.{key} must be a decimal string, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ParseError(f"{where}.{key} is not a decimal amount: {value!r}") from None
    if not amount.is_finite():
        raise ParseError(f"{where}.{key} is not a finite amount: {value!r}")
    if amount != amount.quantize(CENT):
        raise ParseError(f"{where}.{key} has more than two decimal places: {value!r}")
    return amount.quantize(CENT)


def timestamp(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}.{key} must be an ISO 8601 date-time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"{where}.{key} is not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"{where}.{key} has no time zone: {value!r}")
    return parsed


def items(obj: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ParseError(f"{where}.{key} must be a list of objects")
    return value


def currency(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = text(obj, key, where, required=True).upper()
    if len(value) != 3 or not value.isalpha():
        raise ParseError(f"{where}.{key} must be an ISO 4217 code, got {value!r}")
    return value


def order_ref(value: str) -> str:
    """The web order's reference in Khaos: the order number without a leading #."""
    return value.strip().lstrip("#").strip()


def minor_units(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Decimal:
    """Integer pence to a Decimal amount: 2917 → 29.17."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None:
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return Decimal("0.00")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(f"{where}.{key} must be a whole number of minor units, got {value!r}")
    return (Decimal(value) / 100).quantize(CENT)


def quantity(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 1) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParseError(f"{where}.{key} must be a whole number, got {value!r}")
    try:
        number = int(str(value))
    except ValueError:
        raise ParseError(f"{where}.{key} must be a whole number, got {value!r}") from None
    if not 1 <= number <= 1000:
        raise ParseError(f"{where}.{key} must be between 1 and 1000, got {number}")
    return number


def unit_ids(line_id: str, count: int) -> list[str]:
    """One id per physical unit of a line: the line id itself when there is one unit."""
    return [line_id] if count == 1 else [f"{line_id}#{n}" for n in range(1, count + 1)]


def digest(*parts: object) -> str:
    """A short stable fingerprint for event keys."""
    import hashlib

    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(f"{where} must be an object")
    return value


def address(obj: Any, names: Mapping[str, str], where: str) -> dict:
    """A platform's address as the hub keeps it: ``names`` maps the hub's keys
    (line1, line2, line3, town, county, postcode, country_code, phone) to the platform's."""
    source = obj if isinstance(obj, Mapping) else {}
    return {key: text(source, name, where) for key, name in names.items()}


def full_name(obj: Any, first: str = "first_name", last: str = "last_name") -> str:
    source = obj if isinstance(obj, Mapping) else {}
    return " ".join(part for part in (text(source, first, "name"), text(source, last, "name"))
                    if part)  # fmt: skip
