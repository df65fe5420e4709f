"""Field readers for parsers: lenient to added fields, strict on what they use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base.errors import ParseError

CENT = Decimal("0.01")
# The largest amount the hub keeps (money columns are 12 digits, 2 after the point).
MONEY_LIMIT = Decimal("10000000000")
# Deeper than this, a body is not a payload any platform sends; refused before it is read.
MAX_DEPTH = 64
# Characters PostgreSQL text cannot hold (NUL, lone surrogates) or that are no
# part of any text a platform means (C0 controls but tab, newline and CR; DEL).
UNFIT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def show(value: Any, limit: int = 40) -> str:
    """A value for an error message: its repr (so control characters are visible), cut short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def unfit_character(value: str) -> str | None:
    """The first character of ``value`` no text field may hold, named; None if none."""
    found = UNFIT.search(value)
    if found is None:
        return None
    code = ord(found.group())
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"U+{code:04X} ({kind})"


def storable(value: str) -> bool:
    """Whether PostgreSQL text can hold ``value``: no NUL, no lone surrogate."""
    return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def number_error(exc: ValueError) -> str:
    """Python's refusal of a number too long to read, said for the sender."""
    message = str(exc)
    if "integer string conversion" in message:
        return "a number has more digits than the hub reads (4300)"
    return message


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Mapping):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


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
    # A required field is an id or a code: a line break or tab inside one is refused too.
    return _text(value, f"{where}.{key}", single_line=required)


def _text(value: Any, name: str, *, single_line: bool = False) -> str:
    """Text (or a whole number, as text) that the hub can store; else a ParseError naming it."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"{name} must be text, got {type(value).__name__}")
    value = str(value)
    unfit = unfit_character(value)
    if unfit:
        raise ParseError(f"{name} contains {unfit}, which the hub does not store: {show(value)}")
    value = value.strip()
    if single_line and any(c in value for c in "\t\n\r"):
        raise ParseError(f"{name} contains a tab or line break: {show(value)}")
    return value


def money(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Decimal:
    """A decimal string or JSON number to a Decimal of pence precision.

    Bodies are read with ``parse_float=Decimal``, so a JSON number (``20``,
    ``19.99``) arrives here exactly as written; a binary float never does, and
    is refused if one is passed in: it cannot carry money exactly.
    """
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None or value == "":
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return Decimal("0.00")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ParseError(f"{where}.{key} must be a decimal string, got {show(value)}")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ParseError(f"{where}.{key} is not a decimal amount: {show(value)}") from None
    return _bounded(amount, where, key, value)


def _bounded(amount: Decimal, where: str, key: str, value: Any) -> Decimal:
    if not amount.is_finite():
        raise ParseError(f"{where}.{key} is not a finite amount: {show(value)}")
    if abs(amount) >= MONEY_LIMIT:
        raise ParseError(f"{where}.{key} is too large an amount: {show(value)}")
    if amount != amount.quantize(CENT):
        raise ParseError(f"{where}.{key} has more than two decimal places: {show(value)}")
    return amount.quantize(CENT)


def timestamp(
    obj: Mapping[str, Any], key: str, where: str, *, zone: tzinfo | None = None
) -> datetime | None:
    """An ISO 8601 date-time. One without a zone is read in ``zone`` (the connection's)
    when given, else refused: the hub never guesses when a moment was."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}.{key} must be an ISO 8601 date-time, got {show(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None and zone is not None:
            parsed = parsed.replace(tzinfo=zone)
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # a moment the database can hold
    except (ValueError, OverflowError):
        raise ParseError(f"{where}.{key} is not an ISO 8601 date-time: {show(value)}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"{where}.{key} has no time zone: {show(value)}")
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
        raise ParseError(f"{where}.{key} must be a whole number of minor units, got {show(value)}")
    return _bounded(Decimal(value).scaleb(-2), where, key, value)


def quantity(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 1) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or len(str(value)) > 10:
        raise ParseError(f"{where}.{key} must be a whole number, got {show(value)}")
    try:
        number = int(str(value))
    except ValueError:
        raise ParseError(f"{where}.{key} must be a whole number, got {show(value)}") from None
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
    parts = (text(source, first, "name"), text(source, last, "name"))
    return " ".join(part for part in parts if part)


def strings(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    """A list of plain ids (text or whole numbers); anything else is refused."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{where}.{key} must be a list, got {type(value).__name__}")
    return [_text(item, f"{where}.{key}[{n}]", single_line=True) for n, item in enumerate(value)]
