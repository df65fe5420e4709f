"""What holds a return, in words CX can repeat to a customer, and who acts on it.

Each open exception keeps its own message (what exactly is wrong); this adds what the
kind means for the return and which team moves it on.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns_hub.choices import ExceptionKind as K
from returns_hub.choices import Team
from returns_hub.models import ExceptionCase

MEANINGS = {
    K.UNKNOWN_SKU: "An item's SKU is not a Khaos Stock Code yet, so Khaos cannot be told "
    "about the return until the data team maps it.",
    K.INACTIVE_SKU: "An item maps to a product Khaos has deleted or discontinued; the data "
    "team maps it to a live Stock Code.",
    K.UNMAPPED_REASON: "The platform's return reason has no Khaos reason yet; the data team "
    "adds it.",
    K.UNMAPPED_DISPOSITION: "The warehouse's grade has no Khaos reason and site yet, so the "
    "hub does not know where the stock goes.",
    K.MISSING_SOURCE_ORDER: "The return names no web order, so Khaos cannot credit it "
    "against the sale; find the order number.",
    K.UNKNOWN_CUSTOMER: "The customer's email has no Khaos account (URN) and the channel has "
    "no default one; add the customer's row below.",
    K.VALUE_MISMATCH: "What the platform refunded differs from what the items are worth; "
    "finance approves the amount before Khaos is told.",
    K.EXCHANGE_UNAVAILABLE: "The replacement cannot be ordered now (not in stock, not on "
    "sale, or unknown); it is placed as soon as stock arrives, or close it and refund.",
    K.POSTING_UNCONFIRMED: "Khaos was sent the document but has not confirmed it in time; "
    "finance checks Khaos.",
    K.INVALID_PAYLOAD: "The platform sent something the hub cannot read; the data team "
    "looks at it.",
    K.PLATFORM_UNREACHABLE: "The hub cannot reach the platform; the data team checks the "
    "connection.",
    K.INCOMPLETE_ADDRESS: "Khaos needs an invoice address and a name, and neither the "
    "platform nor the customer's row has them all; complete the row below.",
    K.CHANNEL_INCOMPLETE: "The Khaos channel's settings are incomplete; the data team "
    "completes them.",
    K.SETTLEMENT_MISSING: "The platform has not said what it paid the customer; finance can "
    "release the return at the expected credit.",
    K.UNITS_NOT_ARRIVED: "The customer was refunded but the goods have not arrived at the "
    "warehouse in time.",
    K.EXCHANGE_CANCELLED: "Khaos cancelled the replacement order: the customer's replacement "
    "will not ship. Contact the customer, then refund or re-order.",
}
TEAMS = dict(Team.choices)
# Kinds fixed by the customer's row, on this screen.
FIXED_BY_CUSTOMER_ROW = frozenset({K.UNKNOWN_CUSTOMER, K.INCOMPLETE_ADDRESS})


@dataclass(frozen=True)
class Hold:
    case: ExceptionCase
    kind: str
    owner: str
    meaning: str
    fixed_here: bool


def holds(cases) -> list[Hold]:
    """The open cases as holds, in the order given."""
    return [
        Hold(
            case=case,
            kind=case.get_kind_display(),
            owner=TEAMS.get(case.owner, case.owner),
            meaning=MEANINGS.get(case.kind, ""),
            fixed_here=case.kind in FIXED_BY_CUSTOMER_ROW,
        )
        for case in cases
    ]
