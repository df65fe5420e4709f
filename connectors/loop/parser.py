"""Loop Returns payloads → the hub's return events.

Loop sends the whole return every time (webhook or list poll alike), so the
parser reads the snapshot and emits one event per fact in it: the return and
its units, the label, each grade, each refund, a cancellation. Each event's
key names the fact, not the delivery, so a fact is applied once however many
snapshots repeat it.

What real bodies look like (public copies in tests/fixtures/realworld/loop/):
money is a decimal string or a JSON number (read exactly: bodies are parsed
with ``parse_float=Decimal``); ids, zip and tracking numbers may be numbers;
older bodies carry the label only at the top level (``carrier``,
``tracking_number``, ``label_status``, ``label_updated_at``), newer ones also
in ``labels[]``; a ``manual`` refund of 0.00 moves no money; a line's
``outcome`` may be ``default``. Grades are read from the flat keys
(``condition_category``, ``disposition_outcome``, ``disposition``,
``inspected_at``, ``graded_at``) and from nested ``condition{…}`` and
``disposition{…}`` objects: where Loop puts a grade in a return webhook is
not public.

Only a body that is not an object or has no usable return id is refused.
Anything else the hub cannot read is left out and said: a unit whose line has
an unread part is left ungraded with a note (``UnitGradeUnread``), and an
unread part of the return itself is noted on every unit, so a person looks
before anything posts; the snapshot's refunds and cancellation still apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.base import parsing as p
from connectors.base.connector import DEFAULT_CONTEXT, ParseContext
from connectors.base.errors import ParseError
from returns_hub import events as ev

IN_TRANSIT_LABELS = frozenset({"in_transit", "out_for_delivery"})
DELIVERED_LABELS = frozenset({"delivered"})
# What Loop puts in tracking_number before a label exists (Aurate's 2020 body: "N/A").
NO_TRACKING = frozenset({"n/a", "na", "none"})
# Loop's line outcomes → the hub's. Unverified beyond "default" (real bodies) and
# the fixtures' values; a connection adds its own in options["loop_outcomes"].
OUTCOMES = {
    "default": "refund",  # the return's own outcome; Loop's returns are refunds unless said
    "refund": "refund",
    "exchange": "exchange",
    "credit": "store_credit",
    "store_credit": "store_credit",
    "gift_card": "gift_card",
    "keep_item": "keep_item",
    "donate": "donate",
}
HUB_OUTCOMES = frozenset(OUTCOMES.values())
# Grade keys inside nested condition{…} / disposition{…} objects (bare or prefixed).
CONDITION_KEYS = ("category", "condition_category")
DISPOSITION_KEYS = ("outcome", "disposition_outcome")
MAX_RETURN_ID = 45  # "LOOP-" + the id must fit Khaos's 50-character AssociatedRef
MAX_KEY = 255  # the timeline's event_key column
MAX_NOTE = 500  # ReturnUnit.grade_note
ZERO = Decimal("0.00")
ADDRESS = {
    "line1": "address1",
    "line2": "address2",
    "town": "city",
    "county": "state",
    "postcode": "zip",
    "country_code": "country_code",
    "phone": "phone",
}


class Notes(list[str]):
    """The parts of a snapshot the hub could not read, each said once."""

    def read(self, reader: Callable[..., Any], *args: Any, default: Any = None, **kwargs: Any):
        try:
            return reader(*args, **kwargs)
        except ParseError as exc:
            self.add(str(exc))
            return default

    def add(self, message: str) -> None:
        if message not in self:
            self.append(message)


def _text(
    notes: Notes, obj: Mapping, key: str, where: str, limit: int, *, single_line: bool = False
) -> str:
    """Text (or a whole number) the hub can store in ``limit`` characters; else "" and a note."""
    value = obj.get(key)
    if value is None or value == "":
        return ""
    text = notes.read(p.text, obj, key, where, required=single_line, default="")
    if len(text) > limit:
        notes.add(f"{where}.{key} is longer than the hub keeps ({limit}): {p.show(text)}")
        return ""
    return text


def _list(obj: Mapping, key: str, where: str, notes: Notes) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    notes.add(f"{where}.{key} must be a list, got {type(value).__name__}")
    return []


def _objects(obj: Mapping, key: str, where: str, notes: Notes):
    """(where, item) for each object in the list at ``key``; any other item is noted."""
    for index, item in enumerate(_list(obj, key, where, notes)):
        if isinstance(item, Mapping):
            yield f"{key}[{index}]", item
        else:
            notes.add(f"{key}[{index}] is not an object: left out")


@dataclass(frozen=True)
class Line:
    unit: ev.UnitData
    notes: tuple[str, ...]
    grade: tuple[str, str, datetime | None] | None  # disposition, condition, when


@dataclass(frozen=True)
class Label:
    status: str
    carrier: str
    tracking: str
    at: datetime | None
    units: tuple[str, ...]  # empty: every unit
    name: str  # the label in event keys when it has no tracking number

    @property
    def state(self) -> tuple[str, str, str]:
        return self.status, self.carrier, self.tracking


def parse_return(
    payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
) -> list[ev.ReturnEvent]:
    if not isinstance(payload, Mapping):
        raise ParseError("the body must be a JSON object")
    rid = p.text(payload, "id", "return", required=True)
    if len(rid) > MAX_RETURN_ID:
        raise ParseError(
            f"return.id is {len(rid)} characters, over the {MAX_RETURN_ID} an "
            f"AssociatedRef holds after LOOP-: {p.show(rid)}"
        )
    zone = context.time_zone
    notes = Notes()  # the return's own unread parts

    def key(*parts: object) -> str:
        joined = ":".join(["loop", rid, *map(str, parts)])
        return joined if len(joined) <= MAX_KEY else f"loop:{rid}:{p.digest(joined)}"

    lines = _lines(payload, notes, zone, _outcomes(context))
    ids = [line.unit.external_id for line in lines]
    exchanges = _exchanges(payload, notes)
    currency = _currency(payload, notes, context)
    state = _text(notes, payload, "state", "return", 50, single_line=True)
    created = notes.read(p.timestamp, payload, "created_at", "return", zone=zone)
    edited = notes.read(p.timestamp, payload, "edited_at", "return", zone=zone) or created
    events: list[ev.ReturnEvent] = [
        ev.ReturnOpened(
            external_id=rid,
            event_key=key("opened", p.digest(*ids, *(x.external_id for x in exchanges))),
            occurred_at=created,
            **_customer(payload, notes),
            currency=currency,
            platform_state=state,
            units=tuple(line.unit for line in lines),
            exchanges=exchanges,
            handling_fee=notes.read(
                p.money, payload, "handling_fee", "return", required=False, default=ZERO
            ),
        )
    ]
    events += _label_events(rid, _labels(payload, notes, zone, ids), key)
    # Money before grades: an unread refund is noted on every unit.
    money = _refunds(rid, payload, notes, currency, edited, key)
    gift_card = notes.read(p.money, payload, "gift_card", "return", required=False, default=ZERO)
    if gift_card > 0:
        money.append(
            ev.CreditIssued(
                rid,
                key("gift_card", gift_card),
                edited,
                amount=gift_card,
                currency=currency,
                reference=f"LOOP-GC-{rid}",
                kind="gift_card",
            )
        )
    events += _grade_events(rid, lines, notes, edited, key)
    events += money
    if state == "cancelled":
        events.append(ev.ReturnCancelled(rid, key("cancelled"), edited))
    elif state == "expired":
        events.append(ev.ReturnExpired(rid, key("expired"), edited))
    return events


def _outcomes(context: ParseContext) -> dict[str, str]:
    extra = context.options.get("loop_outcomes") if isinstance(context.options, Mapping) else None
    added = {}
    if isinstance(extra, Mapping):
        added = {
            str(k).lower(): v for k, v in extra.items() if isinstance(v, str) and v in HUB_OUTCOMES
        }
    return {**OUTCOMES, **added}


def _currency(payload: Mapping, notes: Notes, context: ParseContext) -> str:
    if payload.get("currency") in (None, ""):
        return context.currency  # not said: the connection's, as for other platforms
    found = notes.read(p.currency, payload, "currency", "return")
    if found is None:
        notes.add(f"amounts read as {context.currency}, the connection's currency")
    return found or context.currency


def _customer(payload: Mapping, notes: Notes) -> dict:
    detail = payload.get("customer_detail")
    if not isinstance(detail, Mapping):
        if detail not in (None, ""):
            notes.add(f"return.customer_detail must be an object, got {type(detail).__name__}")
        detail = {}
    first = _text(notes, detail, "first_name", "customer_detail", 100)
    last = _text(notes, detail, "last_name", "customer_detail", 99)
    email = _text(notes, detail, "email", "customer_detail", 254) or _text(
        notes, payload, "customer", "return", 254
    )
    order = p.order_ref(
        _text(notes, payload, "order_name", "return", 255)
        or _text(notes, payload, "order_number", "return", 255)
    )
    if len(order) > 50:
        notes.add(f"the order reference is longer than the hub keeps (50): {p.show(order)}")
        order = ""
    raw = payload.get("address")
    address, addressee = {}, ""
    if isinstance(raw, Mapping):
        address = {hub: _text(notes, raw, name, "address", 255) for hub, name in ADDRESS.items()}
        addressee = _text(notes, raw, "name", "address", 200)
    elif raw not in (None, ""):
        notes.add(f"return.address must be an object, got {type(raw).__name__}")
    return {
        "order_ref": order,
        "customer_email": email,
        # Older bodies (Aurate's, 2020) have no customer_detail: the name is the address's.
        "customer_name": " ".join(part for part in (first, last) if part) or addressee,
        "address": address,
    }


def _lines(payload: Mapping, notes: Notes, zone, outcomes: dict[str, str]) -> list[Line]:
    lines: list[Line] = []
    seen: set[str] = set()
    for where, line in _objects(payload, "line_items", "return", notes):
        found = Notes()
        uid = _text(found, line, "line_item_id", where, 100, single_line=True)
        if not uid:
            notes.add(f"{where} is left out: {found[0] if found else 'it has no line_item_id'}")
            continue
        if uid in seen:
            notes.add(f"{where} repeats line_item_id {uid}: left out")
            continue
        seen.add(uid)
        price = None  # none given: Khaos prices the line from the source order
        if line.get("price") not in (None, ""):
            price = found.read(p.money, line, "price", where)
        unit = ev.UnitData(
            external_id=uid,
            platform_sku=_text(found, line, "sku", where, 100),
            barcode=_text(found, line, "barcode", where, 50),
            title=_text(found, line, "title", where, 255),
            price=price,
            discount=found.read(p.money, line, "discount", where, required=False, default=ZERO),
            tax=found.read(p.money, line, "tax", where, required=False, default=ZERO),
            reason=_text(found, line, "return_reason", where, 200),
            outcome=_outcome(line, where, found, outcomes),
        )
        grade = _grade(line, where, found, zone)  # its notes join the line's
        lines.append(Line(unit, tuple(found), grade))
    if not lines:
        notes.add("the return lists no line item the hub can read")
    return lines


def _outcome(line: Mapping, where: str, notes: Notes, outcomes: dict[str, str]) -> str:
    raw = _text(notes, line, "outcome", where, 50, single_line=True)
    if not raw:
        return ""
    mapped = outcomes.get(raw.lower())
    if mapped is None:
        notes.add(f"{where}.outcome {p.show(raw)} is not an outcome the hub knows")
        return raw
    return mapped


def _grade(
    line: Mapping, where: str, notes: Notes, zone
) -> tuple[str, str, datetime | None] | None:
    """(disposition, condition, when) from the flat keys and the nested objects, or
    None when there is no disposition yet; an unread or contradictory part is noted."""
    given: dict[str, list[str]] = {"condition": [], "disposition": []}
    nested: dict[str, tuple[Mapping, str]] = {}  # name → (object, where), for its time
    for name, limit, keys in (
        ("condition", 50, CONDITION_KEYS),
        ("disposition", 100, DISPOSITION_KEYS),
    ):
        values = given[name]
        flat = f"{name}_{keys[0]}"  # condition_category, disposition_outcome
        values.append(_text(notes, line, flat, where, limit, single_line=True))
        raw = line.get(name)
        inner = f"{where}.{name}"
        if raw is None or raw == "":
            continue
        if isinstance(raw, str):  # the flat shape: "disposition": "back_to_stock"
            values.append(_text(notes, line, name, where, limit, single_line=True))
        elif isinstance(raw, Mapping):
            if raw and not any(k in raw for k in keys):
                notes.add(f"{inner} has none of {', '.join(keys)}: a shape the hub does not read")
            values.extend(_text(notes, raw, k, inner, limit, single_line=True) for k in keys)
            nested[name] = (raw, inner)
        else:
            notes.add(f"{inner} must be text or an object, got {type(raw).__name__}")
    # When the grade became final: the disposition's time first, the condition's last.
    times = [(*nested["disposition"], "inspected_at")] if "disposition" in nested else []
    times += [(line, where, "inspected_at"), (line, where, "graded_at")]
    if "condition" in nested:
        times.append((*nested["condition"], "inspected_at"))
    when = [notes.read(p.timestamp, obj, key, at, zone=zone) for obj, at, key in times]
    condition = _one(given["condition"], f"{where} condition", notes)
    disposition = _one(given["disposition"], f"{where} disposition", notes)
    if not disposition:
        return None
    return disposition, condition, next((w for w in when if w is not None), None)


def _one(values: list[str], what: str, notes: Notes) -> str:
    distinct = list(dict.fromkeys(v for v in values if v))
    if len(distinct) > 1:
        notes.add(f"{what} is given as {' and '.join(map(p.show, distinct))}")
    return distinct[0] if distinct else ""


def _exchanges(payload: Mapping, notes: Notes) -> tuple[ev.ExchangeData, ...]:
    exchanges = []
    for where, item in _objects(payload, "exchanges", "return", notes):
        found = Notes()
        xid = _text(found, item, "exchange_id", where, 100, single_line=True)
        sku = _text(found, item, "sku", where, 100, single_line=True)
        if not (xid and sku):
            notes.add(f"{where} is left out: it needs an exchange_id and a sku")
        else:
            exchanges.append(
                ev.ExchangeData(
                    external_id=xid,
                    platform_sku=sku,
                    title=_text(found, item, "title", where, 255),
                    value=found.read(p.money, item, "total", where, required=False, default=ZERO),
                )
            )
        for message in found:
            notes.add(message)
    return tuple(exchanges)


def _tracking(notes: Notes, obj: Mapping, key: str, where: str) -> str:
    value = _text(notes, obj, key, where, 100)
    return "" if value.lower() in NO_TRACKING else value


def _labels(payload: Mapping, notes: Notes, zone, ids: list[str]) -> list[Label]:
    """The labels in ``labels[]``, then the top-level one (Loop's summary of the
    current label) last, so the hub ends on it."""
    labels = []
    for where, item in _objects(payload, "labels", "return", notes):
        # The return's units the label names; none named (or none of them): every unit.
        units = tuple(
            i for i in notes.read(p.strings, item, "line_items", where, default=[]) if i in ids
        )
        labels.append(
            Label(
                status=_text(notes, item, "status", where, 50, single_line=True),
                carrier=_text(notes, item, "carrier", where, 100),
                tracking=_tracking(notes, item, "tracking_number", where),
                at=notes.read(p.timestamp, item, "updated_at", where, zone=zone),
                units=units,
                name=where.removeprefix("labels[").rstrip("]"),
            )
        )
    top = Label(
        status=_text(notes, payload, "label_status", "return", 50, single_line=True),
        carrier=_text(notes, payload, "carrier", "return", 100),
        tracking=_tracking(notes, payload, "tracking_number", "return"),
        at=notes.read(p.timestamp, payload, "label_updated_at", "return", zone=zone),
        units=(),
        name="label",
    )
    if any(top.state):
        same = [label for label in labels if label.state == top.state]
        labels = [label for label in labels if label.state != top.state] + (same[-1:] or [top])
    return labels


def _label_events(rid: str, labels: list[Label], key) -> list[ev.ReturnEvent]:
    events: dict[str, ev.ReturnEvent] = {}
    for label in labels:
        state = key("label_state", label.tracking or "-", label.status or "-", label.carrier or "-")
        events.pop(state, None)  # a state met again ends the list: the label is in it now
        events[state] = ev.LabelUpdated(
            rid,
            state,
            label.at,
            status=label.status,
            carrier=label.carrier,
            tracking=label.tracking,
        )
        shipment = label.tracking or label.name
        if label.status in IN_TRANSIT_LABELS | DELIVERED_LABELS:
            moved = key("label", shipment, "in_transit")
            events.setdefault(
                moved,
                ev.UnitsInTransit(rid, moved, label.at, unit_ids=label.units, shipment=shipment),
            )
        if label.status in DELIVERED_LABELS:
            moved = key("label", shipment, "delivered")
            events.setdefault(moved, ev.UnitsReceived(rid, moved, label.at, unit_ids=label.units))
    return list(events.values())


def _refunds(rid, payload, notes: Notes, currency: str, edited, key) -> list[ev.ReturnEvent]:
    events: list[ev.ReturnEvent] = []
    for where, refund in _objects(payload, "refunds", "return", notes):
        try:
            amount = p.money(refund, "amount", where)
        except ParseError as exc:
            notes.add(f"{exc}: the refund is not recorded")
            continue
        if amount == 0:
            continue  # Loop lists a manual refund as 0.00: the money moved outside Loop
        if amount < 0:
            notes.add(f"{where}.amount is negative ({amount}): not recorded")
            continue
        reference = _text(notes, refund, "provider_refund_id", where, 100, single_line=True)
        reference = reference or f"{where.removeprefix('refunds[').rstrip(']')}:{amount}"
        paid = _text(notes, refund, "currency", where, 3, single_line=True).upper()
        if paid and not paid.isalpha():
            notes.add(f"{where}.currency must be an ISO 4217 code, got {p.show(paid)}")
            paid = ""
        events.append(
            ev.RefundIssued(
                rid,
                key("refund", reference),
                edited,
                amount=amount,
                currency=paid or currency,
                reference=reference,
            )
        )
    return events


def _grade_events(rid, lines: list[Line], notes: Notes, edited, key) -> list[ev.ReturnEvent]:
    events: list[ev.ReturnEvent] = []
    for line in lines:
        uid = line.unit.external_id
        unread = [*line.notes, *(n for n in notes if n not in line.notes)]
        if unread:
            note = _note(unread)
            events.append(
                ev.UnitGradeUnread(
                    rid, key("grade_unread", uid, p.digest(note)), edited, unit_id=uid, note=note
                )
            )
        elif line.grade is not None:
            disposition, condition, when = line.grade
            events.append(
                ev.UnitGraded(
                    rid,
                    key("graded", uid, disposition),
                    when or edited,
                    unit_id=uid,
                    disposition=disposition,
                    condition=condition,
                )
            )
    if not lines and notes:  # no unit to hold the note: on the return's timeline
        note = _note(notes)
        events.append(
            ev.UnitGradeUnread(
                rid, key("grade_unread", "-", p.digest(note)), edited, unit_id="", note=note
            )
        )
    return events


def _note(parts: list[str]) -> str:
    note = "; ".join(parts)
    return note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 1] + "…"
