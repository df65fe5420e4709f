"""A return's timeline in plain words: one sentence per entry, saying who or what did what.

The entry's stored ``message`` is written for the hub's staff ("Unit 1 (SKU): in_transit →
received"); CX reads the story to a customer, so the moves between states are told with the
states' names and each entry starts with who or what caused it. Kinds not named here fall
back to the entry's own message after its cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns_hub.choices import Cause, MoneyState, ReturnState, UnitState
from returns_hub.models import Return, TimelineEntry

# What a cause's subject did, by entry kind (the message follows after a colon).
VERBS = {
    "platform_return_opened": "reported",
    "platform_units_in_transit": "reported",
    "platform_units_received": "reported",
    "platform_unit_graded": "graded a unit",
    "platform_unit_grade_unread": "sent a grade the hub could not read",
    "platform_label_updated": "updated the return label",
    "platform_refund_issued": "reported a refund",
    "platform_credit_issued": "reported store credit",
    "platform_return_cancelled": "reported",
    "platform_return_expired": "reported",
    "platform_shipment_announced": "announced a shipment",
    "graded_by_user": "graded a unit",
    "exception_opened": "found a problem",
    "exception_resolved": "closed a problem",
    "exception_ignored": "set a problem aside",
    "exception_assigned": "assigned a problem",
    "retried": "tried again",
    "value_approved": "approved the refund value",
    "settlement_waived": "released the return without the platform's settlement",
    "posting_created": "prepared a Khaos document",
    "posting_ready": "sent the return to Khaos",
    "exchange_ordered": "sent the exchange order to Khaos",
    "posting_unmade": "put a Khaos document back",
    "posting_withdrawn": "withdrew a Khaos document",
    "posting_not_withdrawn": "could not withdraw a Khaos document",
    "posting_confirmed": "confirmed",
    "posting_cancelled": "cancelled an order",
    "khaos_order_status": "sent an order status",
    "exchange_closed": "closed an exchange",
    "customer_row_saved": "saved the customer's address row",
    "write_back_queued": "queued a message to the platform",
    "write_back_sent": "told the platform",
    "write_back_failed": "could not tell the platform",
    "write_back_retried": "tried telling the platform again",
    "write_back_not_sent": "did not tell the platform",
}
# What the hub itself does in answer to someone's event or action: told as the hub's doing,
# after whoever prompted it ("After a Loop Returns event, the hub found a problem: …").
HUB_KINDS = frozenset(
    {
        "exception_opened",
        "exception_resolved",
        "posting_created",
        "posting_ready",
        "exchange_ordered",
        "posting_unmade",
        "posting_withdrawn",
        "posting_not_withdrawn",
        "money_state_changed",
        "write_back_queued",
    }
)
STATE_NAMES = {
    "state_changed": ("the return", dict(ReturnState.choices)),
    "money_state_changed": ("the money", dict(MoneyState.choices)),
    "unit_state_changed": ("unit", dict(UnitState.choices)),
}


@dataclass(frozen=True)
class Sentence:
    at: datetime
    text: str
    cause: str


def subject(entry: TimelineEntry, ret: Return) -> str:
    """Who or what caused the entry, as the sentence's subject."""
    if entry.cause == Cause.PLATFORM:
        return _platform_label(ret)
    if entry.cause == Cause.USER:
        actor = entry.actor
        if actor is None:
            return "A person"
        return actor.get_full_name() or actor.get_username()
    if entry.cause == Cause.KHAOS:
        return "Khaos Control"
    return "The hub"


def prompted_by(entry: TimelineEntry, ret: Return) -> str:
    """ "After …, the hub" for what the hub did in answer to someone; "The hub" otherwise."""
    if entry.kind not in HUB_KINDS or entry.cause == Cause.TASK:
        return subject(entry, ret)
    who = subject(entry, ret)
    if entry.cause == Cause.PLATFORM:
        return f"After a {who} event, the hub"
    if entry.cause == Cause.KHAOS:
        return "After a message from Khaos Control, the hub"
    return f"After {who}'s action, the hub"


def sentence(entry: TimelineEntry, ret: Return) -> str:
    """One plain sentence for ``entry`` (its unit and actor already loaded)."""
    who = prompted_by(entry, ret)
    if entry.kind in STATE_NAMES and entry.to_state:
        what, names = STATE_NAMES[entry.kind]
        if entry.kind == "unit_state_changed" and entry.unit is not None:
            what = f"unit {_unit_label(entry.unit)}"
        before = names.get(entry.from_state, entry.from_state) or "nothing"
        after = names.get(entry.to_state, entry.to_state)
        return _finish(f"{who} moved {what} from {_lower(before)} to {_lower(after)}")
    verb = VERBS.get(entry.kind, "recorded")
    message = entry.message.strip().rstrip(".")
    if not message:
        return _finish(f"{who} {verb}")
    return _finish(f"{who} {verb}: {_lower_first(message)}")


def sentences(entries, ret: Return) -> list[Sentence]:
    return [Sentence(at=e.at, text=sentence(e, ret), cause=e.cause) for e in entries]


def _platform_label(ret: Return) -> str:
    try:
        return ret.connection.spec.label
    except LookupError:
        return ret.connection.platform


def _unit_label(unit) -> str:
    name = unit.platform_sku or unit.barcode or unit.external_id
    return f"{name} ({unit.title})" if unit.title else name


def _lower(label: str) -> str:
    """State names read inside a sentence: "In transit" → "in transit", "Khaos" kept."""
    return label[:1].lower() + label[1:] if label[:1].isupper() and label[1:2].islower() else label


def _lower_first(message: str) -> str:
    word = message.split(" ", 1)[0]
    # Lower a plain first word ("Return opened"), never a name or code ("LOOP-1", "Khaos").
    if word.istitle() and word.isalpha() and word != "Khaos":
        return message[:1].lower() + message[1:]
    return message


def _finish(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."
