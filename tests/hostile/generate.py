"""Hostile inputs, generated from the valid fixtures rather than written by hand.

Each generator takes a valid shape and mangles it one way at a time, so every
field of a fixture is tried with every kind of wrong value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

# Text no field may hold (PostgreSQL cannot store NUL or a lone surrogate; the
# other control characters are no part of any id, code or name).
POISONED_TEXT = {
    "nul": "A\x00B",
    "bell": "A\x07B",
    "escape": "\x1b[31mA",
    "surrogate": "A\ud800B",
}
# Values of the wrong type for any field.
WRONG_TYPES = {
    "object": {"a": 1},
    "list": [1, 2],
    "bool": True,
    "null": None,
    "float": 1.5,
    "huge_int": 10**40,
    "long_text": "x" * 5000,
}


def paths(doc: Any, *, first_items_only: bool = True) -> list[tuple]:
    """Every place in ``doc`` that holds a value, as key paths (list items by index;
    only each list's first item when ``first_items_only``, since the rest repeat it)."""
    found: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), doc)]
    while stack:
        path, node = stack.pop()
        if path:
            found.append(path)
        if isinstance(node, dict):
            stack.extend(((*path, key), value) for key, value in node.items())
        elif isinstance(node, list):
            items = node[:1] if first_items_only else node
            stack.extend(((*path, n), value) for n, value in enumerate(items))
    return sorted(found, key=lambda p: [str(part) for part in p])


def get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def replaced(doc: Any, path: tuple, value: Any) -> Any:
    """A deep copy of ``doc`` with ``value`` at ``path``."""
    copied = copy.deepcopy(doc)
    parent = get(copied, path[:-1])
    parent[path[-1]] = value
    return copied


def name(path: tuple) -> str:
    return ".".join(str(part) for part in path)


KINDS = [*POISONED_TEXT, *WRONG_TYPES]


def variant(doc: Any, path: tuple, kind: str) -> Any:
    """``doc`` with the field at ``path`` given the hostile value ``kind``."""
    if kind in POISONED_TEXT:
        original = get(doc, path)
        text = original if isinstance(original, str) and original else "x"
        return replaced(doc, path, text[:1] + POISONED_TEXT[kind] + text[1:])
    return replaced(doc, path, WRONG_TYPES[kind])


def variants(doc: Any, path: tuple) -> Iterator[tuple[str, Any]]:
    """Each hostile value for the field at ``path``: poisoned text (for text fields,
    and for every field, since a number may arrive as text) and every wrong type."""
    original = get(doc, path)
    for kind in KINDS:
        if kind in POISONED_TEXT or type(WRONG_TYPES[kind]) is not type(original):
            yield kind, variant(doc, path, kind)


def dumps(doc: Any) -> bytes:
    """JSON as a platform might send it (lone surrogates kept as \\u escapes)."""
    return json.dumps(doc).encode()


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int, key: str = "a") -> bytes:
    return f'{{"{key}":'.encode() * depth + b"1" + b"}" * depth


def huge_number(digits: int) -> bytes:
    return b'{"n": ' + b"9" * digits + b"}"


def structural(body: bytes) -> dict[str, bytes]:
    """Bodies that are not the platform's shape at all, from one valid ``body``."""
    text = body.decode("utf-8")
    return {
        "empty": b"",
        "whitespace": b" \r\n\t ",
        "null": b"null",
        "array": b"[]",
        "array_of_the_body": b"[" + body + b"]",
        "string": b'"return"',
        "number": b"42",
        "truncated_half": body[: len(body) // 2],
        "truncated_last_byte": body.rstrip()[:-1],
        "invalid_utf8": body.replace(b'"', b'"\xff', 1),
        "latin1_bytes": b'{"id": "caf\xe9"}',
        "utf16": text.encode("utf-16"),
        "nul_byte_raw": body.replace(b'"', b'"\x00', 1),
        "deep_array_100k": deep_array(100_000),
        "deep_object_100k": deep_object(100_000),
        "deep_array_200": b'{"id": ' + deep_array(200) + b"}",
        "huge_number_5000_digits": huge_number(5000),
        "nan_literal": b'{"id": NaN}',
        "not_json": b"<xml/>",
    }


def xml_bodies() -> dict[str, bytes]:
    """XML that no Khaos push is: bombs, external entities, depth, broken text."""
    lol = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    return {
        "billion_laughs": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol0 "lol">{lol}]>'
            "<StockUpload><Items>&lol9;</Items></StockUpload>"
        ).encode(),
        "quadratic_blowup": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{"x" * 50_000}">]>'
            f"<StockUpload>{'&a;' * 1000}</StockUpload>"
        ).encode(),
        "external_entity": (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<StockUpload><Items>&x;</Items></StockUpload>"
        ),
        "external_dtd": (
            b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><StockUpload/>'
        ),
        "deep_100k": b"<a>" * 100_000 + b"</a>" * 100_000,
        "deep_200": b"<StockUpload>" + b"<Items>" * 200 + b"</Items>" * 200 + b"</StockUpload>",
        "nul_reference": _stock_id(b"&#0;"),
        "control_reference": _stock_id(b"&#7;"),
        "surrogate_reference": _stock_id(b"&#xD800;"),
        "truncated": b"<StockUpload><Items><StockItem><StockID>1</Stock",
        "empty": b"",
        "not_xml": b'{"Items": []}',
        "wrong_encoding": b'<?xml version="1.0" encoding="utf-8"?><S>\xff\xfe</S>',
        "text_root": b"<StockUpload>just text</StockUpload>",
    }


def _stock_id(value: bytes) -> bytes:
    return b"<StockUpload><Items><I><StockID>" + value + b"</StockID></I></Items></StockUpload>"
