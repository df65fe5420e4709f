"""JSON and XML as the channel speaks them.

JSON: exact decimals (never floats), no nulls. XML: a DataItem is attributes
on its element (``<ReturnReason ID="3"/>``), a list of objects is a container
with one child per item (names in ``schema``), a list of plain values repeats
its element.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
import simplejson

from connectors.base import parsing
from connectors.khaos import schema
from returns_hub import documents


class UploadError(ValueError):
    """The body is not a readable document; answered with 400."""


# --- writing -------------------------------------------------------------------


def to_json(document: dict) -> bytes:
    return documents.dumps(document).encode()


def _is_data_item(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= schema.DATA_ITEM_KEYS
        and all(isinstance(v, str) for v in value.values())
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _append(parent: Element, name: str, value: Any) -> None:
    if value is None:
        return  # the channel's rule: never send a null
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            container = SubElement(parent, name)
            child = schema.ITEM_ELEMENTS.get(name, name.rstrip("s"))
            for item in value:
                _append(container, child, item)
        elif not value and name in schema.ITEM_ELEMENTS:
            SubElement(parent, name)  # an empty list Khaos expects to see, e.g. <DiscountCodes/>
        else:
            for item in value:
                _append(parent, name, item)
        return
    element = SubElement(parent, name)
    if _is_data_item(value):
        element.attrib.update(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    else:
        element.text = _text(value)


def to_xml(root: str, document: dict) -> bytes:
    element = Element(root)
    for key, value in document.items():
        _append(element, key, value)
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode()
    )


# --- reading -------------------------------------------------------------------


# A string the hub cannot store (NUL, a lone surrogate) can only come from a
# \u escape in JSON; the document is searched for one only when such an escape is there.
UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|[dD][89abAB])")


def from_json(body: bytes) -> dict:
    try:
        document = simplejson.loads(body.decode("utf-8-sig"), use_decimal=True)
    except (UnicodeDecodeError, simplejson.JSONDecodeError) as exc:
        raise UploadError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise UploadError("body is not valid JSON: it nests too deeply") from None
    except ValueError as exc:  # Python's limit on the digits of an integer
        raise UploadError(f"body is not valid JSON: {parsing.number_error(exc)}") from None
    if not isinstance(document, dict):
        raise UploadError("body must be a JSON object")
    if parsing.depth(document) > parsing.MAX_DEPTH:
        raise UploadError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
    if UNSTORABLE_ESCAPE.search(body):
        _refuse_unstorable(document)
    return document


def _refuse_unstorable(document: dict) -> None:
    """UploadError naming the first text (or key) that PostgreSQL cannot hold."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else key
                if not parsing.storable(key):
                    raise UploadError(f"{where!r} is a name the hub cannot store")
                stack.append((where, value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{n}]", item) for n, item in enumerate(node))
        elif isinstance(node, str) and not parsing.storable(node):
            raise UploadError(
                f"{path} contains {parsing.unfit_character(node)}, which the hub cannot store"
            )


def _read(element) -> Any:
    children = list(element)
    if element.tag in schema.LIST_CONTAINERS:
        if not children and (element.text or "").strip():
            return element.text.strip()  # text, not a list: e.g. an order item's <Mapping>
        return [_read(child) for child in children]
    if children:
        read: dict[str, Any] = {}
        for child in children:
            value = _read(child)
            if child.tag not in read:
                read[child.tag] = value
            elif isinstance(read[child.tag], _Repeated):
                read[child.tag].append(value)
            else:  # a repeated element is a list, never its last copy alone
                read[child.tag] = _Repeated([read[child.tag], value])
        return read
    text = (element.text or "").strip()
    if element.attrib:
        item = dict(element.attrib)
        if text:
            item["Name"] = text  # e.g. <Courier Code="RMT48" ID="12">Royal Mail…</Courier>
        return item
    return text


class _Repeated(list):
    """The values of an element that appears more than once in the same parent."""


def _depth(root) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > parsing.MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in element)
    return deepest


def from_xml(body: bytes) -> dict:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)  # Khaos sends no DTD
    except Exception as exc:  # defusedxml raises several kinds for hostile or broken XML
        raise UploadError(f"body is not valid XML: {exc}") from None
    if _depth(root) > parsing.MAX_DEPTH:
        raise UploadError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
    value = _read(root)
    return value if isinstance(value, dict) else {}


def read(body: bytes, fmt: str) -> dict:
    return from_xml(body) if fmt == "XML" else from_json(body)
