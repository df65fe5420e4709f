"""Khaos documents as canonical JSON text: exact decimals, a fixed key order.

A posting's document is stored as this text, so the same AssociatedRef is
always served byte for byte the same, and prices keep every penny (JSON
numbers written from Decimal, read back as Decimal).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def _fixed_point(value: Any) -> Any:
    """Decimals as plain numbers: 1000, never 1E+3, which not every reader takes."""
    if isinstance(value, Decimal):
        return Decimal(format(value, "f"))
    if isinstance(value, dict):
        return {key: _fixed_point(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fixed_point(item) for item in value]
    return value


def dumps(document: Any) -> str:
    return simplejson.dumps(
        _fixed_point(document), use_decimal=True, separators=(",", ":"), ensure_ascii=False
    )


def loads(text: str) -> Any:
    return simplejson.loads(text, use_decimal=True)
