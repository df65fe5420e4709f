"""What the return page shows beyond the rows themselves: a Khaos document laid out for
reading, and the return's money from expected to confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import simplejson
from defusedxml import minidom

from returns_hub.choices import PostingKind, PostingState

ZERO = Decimal("0.00")
POSTED_STATES = (PostingState.READY, PostingState.DOWNLOADED, PostingState.CONFIRMED)


def pretty_document(document: str) -> str:
    """The Khaos document indented (JSON or XML); as stored when it is neither."""
    text = (document or "").strip()
    if not text:
        return ""
    if text.startswith("<"):
        try:
            pretty = minidom.parseString(text).toprettyxml(indent="  ")
        except Exception:  # a document the hub stored is shown, whatever its shape
            return text
        return "\n".join(line for line in pretty.splitlines() if line.strip())
    try:
        # Decimals from their text: an amount is shown exactly as Khaos receives it.
        return simplejson.dumps(
            simplejson.loads(text, use_decimal=True), indent=2, use_decimal=True
        )
    except ValueError:
        return text


@dataclass(frozen=True)
class Money:
    currency: str
    expected: Decimal
    expected_estimated: bool
    settled: Decimal
    refunded: Decimal
    store_credit: Decimal
    exchange: Decimal
    posted: Decimal | None
    confirmed: Decimal | None
    credit_note: object | None


def money(ret, units, postings) -> Money:
    """Expected credit (the return posting's, else the units'), what the platform
    settled, what was posted to Khaos and what Khaos confirmed by a credit note."""
    return_posting = next((p for p in postings if p.kind == PostingKind.RETURN), None)
    if return_posting is not None:
        expected = return_posting.expected_credit
    else:
        expected = sum((unit.expected_credit for unit in units), ZERO)
    posted = (
        return_posting.expected_credit
        if return_posting is not None and return_posting.state in POSTED_STATES
        else None
    )
    # The credit note lives in reconciliation; the hub reads it only through the posting.
    note = getattr(return_posting, "credit_note", None) if return_posting is not None else None
    return Money(
        currency=ret.currency,
        expected=expected,
        expected_estimated=any(unit.expected_credit_estimated for unit in units),
        settled=ret.refunded_amount + ret.store_credit_amount + ret.exchange_amount,
        refunded=ret.refunded_amount,
        store_credit=ret.store_credit_amount,
        exchange=ret.exchange_amount,
        posted=posted,
        confirmed=note.gross if note is not None else None,
        credit_note=note,
    )
