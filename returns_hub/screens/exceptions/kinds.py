"""Each kind of exception in plain words: what went wrong, and what a person does about it."""

from __future__ import annotations

from dataclasses import dataclass

from returns_hub.choices import ExceptionKind as K


@dataclass(frozen=True)
class KindWords:
    what: str  # what went wrong, for the queue's row
    todo: str  # what fixes it, for the case's page


WORDS: dict[str, KindWords] = {
    K.UNKNOWN_SKU: KindWords(
        "A SKU Khaos does not know",
        "Add a SKU mapping from the platform's SKU to a live Khaos Stock Code.",
    ),
    K.INACTIVE_SKU: KindWords(
        "A SKU deleted or discontinued in Khaos",
        "Map the platform's SKU to a live Stock Code.",
    ),
    K.UNMAPPED_REASON: KindWords(
        "A return reason with no Khaos reason",
        "Add a reason mapping to a Khaos return reason.",
    ),
    K.UNMAPPED_DISPOSITION: KindWords(
        "A grade with no Khaos disposition",
        "Add (or correct) the disposition mapping: the Khaos reason and site for this grade.",
    ),
    K.MISSING_SOURCE_ORDER: KindWords(
        "The original web order is not known",
        "Find the order in Khaos or with the customer, then retry.",
    ),
    K.UNKNOWN_CUSTOMER: KindWords(
        "A customer with no Khaos account",
        "Add a customer mapping from their email to their Khaos URN.",
    ),
    K.VALUE_MISMATCH: KindWords(
        "Refunded a different amount than expected",
        "Approve the value the platform settled, or ignore with a note if it is "
        "handled outside the hub.",
    ),
    K.EXCHANGE_UNAVAILABLE: KindWords(
        "The replacement item cannot be sent",
        "Retry once stock arrives, or resolve it if the customer was refunded instead.",
    ),
    K.POSTING_UNCONFIRMED: KindWords(
        "Khaos has not confirmed the credit note",
        "Look for the credit note in Khaos; retry, or resolve it once it is there.",
    ),
    K.INVALID_PAYLOAD: KindWords(
        "A platform message the hub could not read",
        "Retry once the connector reads it, or ignore it with a note.",
    ),
    K.PLATFORM_UNREACHABLE: KindWords(
        "The platform is not answering",
        "Check the connection's settings and the platform's status, then retry.",
    ),
    K.INCOMPLETE_ADDRESS: KindWords(
        "The customer's address is incomplete",
        "Complete the customer's row with their name and address.",
    ),
    K.CHANNEL_INCOMPLETE: KindWords(
        "The Khaos channel lacks a setting",
        "Complete the Khaos channel's settings (sales source, company class).",
    ),
    K.SETTLEMENT_MISSING: KindWords(
        "The platform has not settled the refund",
        "Wait for the platform, or resolve it to post at the expected credit.",
    ),
    K.UNITS_NOT_ARRIVED: KindWords(
        "Refunded units have not arrived",
        "Look for the parcel at goods-in; ignore with a note if it will not come.",
    ),
    K.EXCHANGE_CANCELLED: KindWords(
        "Khaos cancelled the exchange order",
        "Contact the customer; resolve it once it is handled.",
    ),
}


def words(kind: str) -> KindWords:
    return WORDS.get(kind, KindWords(str(kind), ""))
