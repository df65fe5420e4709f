"""JSON and XML as the channel speaks them.

JSON: exact decimals (never floats), no nulls. XML: a DataItem is attributes
on its element (``<ReturnReason ID="3"/>``), a list of objects is a container
with one child per item (names in ``schema``), a list of plain values repeats
its element.

A push is read whole (``read``) or one top-level part at a time (``parts``), so
that a push of tens of megabytes is never held as one tree of objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
        elif not value and (name in schema.ITEM_ELEMENTS or name in schema.EMPTY_WRITTEN):
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
UNSTORABLE_ESCAPE = re.compile(r"\\u(0000|[dD][89abAB])")


def from_json(body: bytes) -> dict:
    return _whole_json(_json_text(body))


def _json_text(body: bytes | bytearray) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"body is not valid JSON: {exc}") from None


def _decoded(decode: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``decode(*args, **kwargs)``, its refusals as UploadError: not JSON, nested past
    Python's recursion limit, or an integer with more digits than Python reads."""
    try:
        return decode(*args, **kwargs)
    except simplejson.JSONDecodeError as exc:
        raise UploadError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise UploadError("body is not valid JSON: it nests too deeply") from None
    except ValueError as exc:  # Python's limit on the digits of an integer
        raise UploadError(f"body is not valid JSON: {parsing.number_error(exc)}") from None


def _refuse_unstorable(document: Any, path: str = "") -> None:
    """UploadError naming the first text (or key) that PostgreSQL cannot hold."""
    stack: list[tuple[str, Any]] = [(path, document)]
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


# --- reading a push one part at a time ------------------------------------------------
#
# ``parts`` gives a push's top-level members in order as (name, value). A top-level
# list (JSON array; in XML a container element of ``schema.LIST_CONTAINERS``) is given
# as ``Entries``, read one entry at a time as the caller iterates it, so only the
# entries being worked on are ever objects in memory. Errors are UploadError (400),
# with the same messages as the whole-document readers above.

_END = object()
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_JSON_DECODER = simplejson.JSONDecoder(parse_float=Decimal)  # as loads(use_decimal=True)


class Entries(Iterator):
    """The entries of one top-level list, read as they are reached. Iterate them before
    asking ``parts`` for the next member; whatever is left unread is read and dropped.
    ``consumed`` is how much of the push (characters or bytes) has been read so far, so
    that a reader can cut its batches by size as well as by count."""

    def __init__(self, pull: Callable[[], Any], consumed: Callable[[], int]):
        self._pull = pull
        self._consumed = consumed
        self._done = False

    @property
    def consumed(self) -> int:
        return self._consumed()

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        entry = self._pull()
        if entry is _END:
            self._done = True
            raise StopIteration
        return entry

    def skip(self) -> None:
        for _ in self:
            pass


def parts(body: bytes | bytearray, fmt: str) -> Iterator[tuple[str, Any]]:
    """The push's top-level members, one at a time (see above)."""
    return _xml_parts(body) if fmt == "XML" else _json_parts(body)


def document(members: Iterator[tuple[str, Any]]) -> dict:
    """``parts`` as one document (for pushes that are small, such as order statuses).
    A list named twice is one list; any other repeated name keeps its last value."""
    read: dict[str, Any] = {}
    for key, value in members:
        if isinstance(value, Entries):
            value = list(value)
            if isinstance(read.get(key), list):
                value = read[key] + value
        read[key] = value
    return read


def _bad_json(message: str, text: str, pos: int, end: int | None = None) -> UploadError:
    error = simplejson.JSONDecodeError(message, text, pos, end)
    return UploadError(f"body is not valid JSON: {error}")


class _JsonText:
    """A JSON text read value by value from ``pos``."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.unstorable = UNSTORABLE_ESCAPE.search(text) is not None

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        self.pos = _JSON_WHITESPACE.match(self.text, self.pos).end()
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise _bad_json(f"Expecting {what}", self.text, self.pos)
        self.pos += 1

    def value(self, where: str | None, level: int) -> Any:
        """The value at ``pos``; ``level`` is how deep in the document it sits. Text
        PostgreSQL cannot hold is refused, naming ``where`` (None: the caller checks)."""
        start = self.pos
        value, self.pos = _decoded(_JSON_DECODER.raw_decode, self.text, self.pos)
        # A value with fewer brackets than levels left cannot nest too deeply: its walk
        # (slow, for the many entries of a large push) is needed only when it has more.
        opened = self.text.count("[", start, self.pos) + self.text.count("{", start, self.pos)
        if opened > parsing.MAX_DEPTH - level and level + parsing.depth(value) > parsing.MAX_DEPTH:
            raise UploadError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
        if self.unstorable and where is not None:
            _refuse_unstorable(value, where)
        return value


def _json_parts(body: bytes | bytearray) -> Iterator[tuple[str, Any]]:
    text = _json_text(body)
    del body  # the text is all that is read from here on
    reader = _JsonText(text)
    if reader.peek() != "{":  # not an object: refused as the whole-document reader says
        yield from _whole_json(text).items()
        return
    reader.pos += 1
    if reader.peek() == "}":
        reader.pos += 1
    else:
        expecting = "property name enclosed in double quotes or '}'"
        while True:
            if reader.peek() != '"':
                raise _bad_json(f"Expecting {expecting}", text, reader.pos)
            expecting = "property name enclosed in double quotes"
            key = reader.value(None, 1)
            if reader.unstorable and not parsing.storable(key):
                raise UploadError(f"{key!r} is a name the hub cannot store")
            reader.expect(":", "':' delimiter")
            if reader.peek() == "[":
                reader.pos += 1
                entries = Entries(_json_entries(reader, key), lambda: reader.pos)
                yield key, entries
                entries.skip()
            else:
                yield key, reader.value(key, 1)
            after = reader.peek()
            if after == "}":
                reader.pos += 1
                break
            if after != ",":
                raise _bad_json("Expecting ',' delimiter or '}'", text, reader.pos)
            comma = reader.pos
            reader.pos += 1
            if reader.peek() == "}":
                raise _bad_json("Illegal trailing comma before end of object", text, comma)
    if reader.peek():
        raise _bad_json("Extra data", text, reader.pos, len(text))


def _json_entries(reader: _JsonText, key: str) -> Callable[[], Any]:
    index = 0

    def pull() -> Any:
        nonlocal index
        after = reader.peek()
        if after == "]":
            reader.pos += 1
            return _END
        if index:
            if after != ",":
                raise _bad_json("Expecting ',' delimiter or ']'", reader.text, reader.pos)
            comma = reader.pos
            reader.pos += 1
            if reader.peek() == "]":
                raise _bad_json("Illegal trailing comma before end of array", reader.text, comma)
        entry = reader.value(f"{key}[{index}]", 2)
        index += 1
        return entry

    return pull


def _whole_json(text: str) -> dict:
    """A JSON text read whole, with the whole-document reader's checks and messages."""
    document = _decoded(simplejson.loads, text, use_decimal=True)
    if not isinstance(document, dict):
        raise UploadError("body must be a JSON object")
    if parsing.depth(document) > parsing.MAX_DEPTH:
        raise UploadError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
    if UNSTORABLE_ESCAPE.search(text):
        _refuse_unstorable(document)
    return document


class _Chunks:
    """A file over a buffer, read a chunk at a time (the XML parser's source)."""

    def __init__(self, body: bytes | bytearray):
        self._view = memoryview(body)
        self.position = 0  # bytes given to the parser so far

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self.position + size
        chunk = bytes(self._view[self.position : end])
        self.position += len(chunk)
        return chunk


def _xml_events(source: _Chunks) -> Iterator[tuple[str, Any, int]]:
    """(event, element, its depth) for each start and end; UploadError for XML that is
    broken or hostile (no DTD, no entities) and for nesting deeper than MAX_DEPTH."""
    events = SafeET.iterparse(source, events=("start", "end"), forbid_dtd=True)
    depth = 0
    while True:
        try:
            event, element = next(events)
        except StopIteration:
            return
        except Exception as exc:  # defusedxml raises several kinds for hostile or broken XML
            raise UploadError(f"body is not valid XML: {exc}") from None
        if event == "start":
            depth += 1
            if depth > parsing.MAX_DEPTH:
                raise UploadError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
            yield event, element, depth
        else:
            yield event, element, depth
            depth -= 1


def _xml_parts(body: bytes | bytearray) -> Iterator[tuple[str, Any]]:
    source = _Chunks(body)
    events = _xml_events(source)
    root = None
    for event, element, depth in events:
        if depth == 1:
            root = element
            continue
        # A member of the root starts (its inner events are read below, never here).
        if element.tag in schema.LIST_CONTAINERS:
            _, _, depth = next(events, (None, None, 2))
            if depth == 2:  # the container ends with no children: empty, or text
                text = (element.text or "").strip()
                yield element.tag, text or []
            else:
                entries = Entries(_xml_entries(events, element), lambda: source.position)
                yield element.tag, entries
                entries.skip()
        else:
            for event, _, depth in events:
                if depth == 2 and event == "end":
                    break
            yield element.tag, _read(element)
        root.remove(element)  # read: let it go


def _xml_entries(events: Iterator[tuple[str, Any, int]], container) -> Callable[[], Any]:
    def pull() -> Any:
        for event, element, depth in events:
            if depth == 2:  # the container's end
                return _END
            if depth == 3 and event == "end":
                entry = _read(element)
                container.remove(element)  # read: let it go
                return entry
        return _END

    return pull
