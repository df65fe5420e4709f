"""Khaos documents as canonical JSON text: exact decimals, a fixed key order.

A posting's document is stored as this text, so the same AssociatedRef is
always served byte for byte the same, and prices keep every penny (JSON
numbers written from Decimal, read back as Decimal).
"""

from __future__ import annotations

from typing import Any

import simplejson


def dumps(document: Any) -> str:
    return simplejson.dumps(document, use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    return simplejson.loads(text, use_decimal=True)
