"""Tie Khaos credit notes to the hub's return postings, and confirm what they name.

A credit note is matched, in this order:

1. ``associated_ref``: its Associated Ref is a return posting's AssociatedRef;
2. ``order_and_amount``: its Associated Ref names no posting but is a return's source
   order (``Return.order_ref``), and exactly one of that order's return postings, in
   the note's currency and not matched yet, expects a credit within the connection's
   tolerance of the note's gross;
3. ``manual``: a person ties it (``match_by_hand``).

A blank Associated Ref is a credit note raised by hand in Khaos: it stays unmatched,
and so does one whose ref names nothing the hub posted. Only a posting Khaos was
offered (ready, downloaded or confirmed) is matched. The posting's state is moved by
``postings.confirm`` alone, which also closes ``posting_unconfirmed``.

A matched note's difference (gross less the expected credit) is split, where the
return's data allows, into tax, discount, shipping and fees; the rest is ``other``
(``split_difference``). The parts always add up to the difference exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import combinations

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from reconciliation.models import CreditNote, MatchMethod
from returns_hub.choices import Cause, PostingKind, UnitState
from returns_hub.models import Posting, ReturnUnit
from returns_hub.services import postings, timeline
from returns_hub.services.locks import lock_return

TASK_NAME = "import_credit_notes"
MATCHABLE = postings.SERVABLE  # Khaos was offered it, so it may have raised a note for it
CONFIRM_BATCH = 500
HAND_RAISED = "Raised by hand in Khaos: no Associated Ref."
ZERO = Decimal("0.00")
SPLIT_FIELDS = [
    "difference_tax",
    "difference_discount",
    "difference_shipping",
    "difference_fees",
    "difference_other",
]


@dataclass(frozen=True)
class Matcher:
    """Who matches: a person (uploading, or tying by hand) or the import task."""

    user: object = None
    now: datetime | None = None

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else TASK_NAME

    @property
    def by(self) -> timeline.By:
        if self.user is not None:
            return timeline.By(Cause.USER, actor=self.user)
        return timeline.TASK


def _tie(note: CreditNote, posting: Posting, method: str, matcher: Matcher) -> None:
    note.posting = posting
    note.platform = posting.platform
    note.match_method = method
    note.matched_by = matcher.name
    note.matched_by_user = matcher.user
    note.matched_at = matcher.now or timezone.now()
    note.expected_credit = posting.expected_credit
    same_currency = note.currency == posting.currency
    note.difference = note.gross - posting.expected_credit if same_currency else None
    note.unmatched_reason = ""


# Splitting the difference ----------------------------------------------------------------


@dataclass(frozen=True)
class PostedUnits:
    """What a return's posted (not cancelled) units add up to."""

    tax: Decimal = ZERO
    discount: Decimal = ZERO
    # The units' tax can be compared with the note's: every unit has a platform price and
    # some unit carries tax (a platform that gives no tax leaves every unit's at 0).
    tax_known: bool = False
    discount_known: bool = False


def _signed_match(remaining: Decimal, known: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """The fewest of the known amounts that, all taken short or all taken over, make up
    ``remaining`` exactly (in the order given on a tie); empty when none do."""
    for size in range(1, len(known) + 1):
        for chosen in combinations(known, size):
            total = sum((amount for _, amount in chosen), ZERO)
            for sign in (-1, 1):
                if sign * total == remaining:
                    return {name: sign * amount for name, amount in chosen}
    return {}


def split_difference(
    difference: Decimal,
    *,
    note_tax: Decimal,
    handling_fee: Decimal = ZERO,
    shipping_refunded: Decimal = ZERO,
    units: PostedUnits | None = None,
) -> dict[str, Decimal]:
    """A credit note's difference (gross less the expected credit) in parts: ``tax``,
    ``discount``, ``shipping``, ``fees`` and ``other``, adding up to it exactly.

    A difference that is exactly the handling fee, the refunded shipping or the units'
    discount (or several of them, all short or all over) is that. Otherwise, where the
    units' tax is known, the note's tax less the units' is ``tax``, and the rest is
    matched the same way. What nothing explains is ``other``.
    """
    parts = dict.fromkeys(("tax", "discount", "shipping", "fees", "other"), ZERO)
    if not difference:
        return parts
    units = units or PostedUnits()
    known = [
        (name, amount)
        for name, amount in (
            ("fees", handling_fee),
            ("shipping", shipping_refunded),
            ("discount", units.discount if units.discount_known else ZERO),
        )
        if amount
    ]
    explained = _signed_match(difference, known)
    if not explained and units.tax_known and note_tax != units.tax:
        explained = {"tax": note_tax - units.tax}
        explained.update(_signed_match(difference - explained["tax"], known))
    parts.update(explained)
    parts["other"] = difference - sum((parts[name] for name in explained), ZERO)
    return parts


def _posted_units(return_ids: set[int]) -> dict[int, PostedUnits]:
    """Each return's posted units, summed by the database: one query for all of them."""
    found = (
        ReturnUnit.objects.filter(return_ref_id__in=return_ids)
        .exclude(state=UnitState.CANCELLED)
        .order_by()
        .values("return_ref_id")
        .annotate(
            g_tax=Sum("tax"),
            g_discount=Sum("discount"),
            g_unpriced=Count("pk", filter=Q(price_known=False)),
            g_taxed=Count("pk", filter=~Q(tax=0)),
        )
    )
    return {
        row["return_ref_id"]: PostedUnits(
            tax=row["g_tax"] or ZERO,
            discount=row["g_discount"] or ZERO,
            tax_known=not row["g_unpriced"] and row["g_taxed"] > 0,
            discount_known=not row["g_unpriced"],
        )
        for row in found
    }


def split(notes: list[CreditNote]) -> None:
    """Set the difference's parts on matched notes (in memory: the caller saves them);
    a note with no difference has none. One query, for all the notes' returns' units."""
    splittable = [n for n in notes if n.posting_id is not None and n.difference is not None]
    for note in notes:
        for name in SPLIT_FIELDS:
            setattr(note, name, None)
    if not splittable:
        return
    units = _posted_units({note.posting.return_ref_id for note in splittable})
    for note in splittable:
        ret = note.posting.return_ref
        parts = split_difference(
            note.difference,
            note_tax=note.tax,
            handling_fee=ret.handling_fee,
            shipping_refunded=ret.shipping_refunded,
            units=units.get(ret.pk),
        )
        for name, amount in parts.items():
            setattr(note, f"difference_{name}", amount)


def _order(ref: str) -> str:
    return ref.strip().lstrip("#")


def match(
    notes: list[CreditNote], matcher: Matcher, *, claimed_before: dict[int, str] | None = None
) -> list[CreditNote]:
    """Match the unmatched notes among ``notes`` (in memory: the caller saves them).

    ``claimed_before`` (posting id → note code): postings taken by notes not saved yet, as a
    preview's earlier batches are. A fixed number of queries whatever the number of notes.
    Returns the notes matched.
    """
    pending = [note for note in notes if note.posting_id is None]
    for note in pending:
        note.unmatched_reason = "" if note.associated_ref else HAND_RAISED
    refs = {note.associated_ref for note in pending if note.associated_ref}
    if not refs:
        return []
    related = Posting.objects.select_related("return_ref__connection").filter(
        kind=PostingKind.RETURN
    )
    by_ref: dict[str, list[Posting]] = defaultdict(list)
    for posting in related.filter(associated_ref__in=refs):
        by_ref[posting.associated_ref].append(posting)
    orders = {_order(ref) for ref in refs - set(by_ref)} - {""}
    by_order: dict[str, list[Posting]] = defaultdict(list)
    if orders:
        for posting in related.filter(return_ref__order_ref__in=orders, state__in=MATCHABLE):
            by_order[posting.return_ref.order_ref].append(posting)
    candidates = [p.pk for group in (*by_ref.values(), *by_order.values()) for p in group]
    claimed = dict(
        CreditNote.objects.filter(posting__in=candidates)
        .exclude(pk__in=[note.pk for note in pending if note.pk])
        .values_list("posting_id", "code")
    )
    claimed.update(claimed_before or {})

    matched = []
    for note in pending:
        if not note.associated_ref:
            continue
        if note.associated_ref in by_ref:
            posting, why = _by_ref(note, by_ref[note.associated_ref], claimed)
            method = MatchMethod.ASSOCIATED_REF
        else:
            posting, why = _by_order(note, by_order.get(_order(note.associated_ref), []), claimed)
            method = MatchMethod.ORDER_AND_AMOUNT
        if posting is None:
            note.unmatched_reason = why[:255]
            continue
        _tie(note, posting, method, matcher)
        claimed[posting.pk] = note.code
        matched.append(note)
    split(matched)
    return matched


def _by_ref(note: CreditNote, found: list[Posting], claimed: dict) -> tuple[Posting | None, str]:
    if len(found) > 1:
        found = [p for p in found if p.currency == note.currency] or found
    if len(found) > 1:
        return None, f"{len(found)} return postings have the AssociatedRef {note.associated_ref}."
    posting = found[0]
    if posting.state not in MATCHABLE:
        return None, (
            f"Return posting {posting.associated_ref} is {posting.state}: "
            "Khaos was never offered it."
        )
    if posting.pk in claimed:
        return None, (
            f"Return posting {posting.associated_ref} is already matched to "
            f"credit note {claimed[posting.pk]}."
        )
    return posting, ""


def _by_order(note: CreditNote, found: list[Posting], claimed: dict) -> tuple[Posting | None, str]:
    if not found:
        return (
            None,
            f"No return posting has the AssociatedRef or source order {note.associated_ref}.",
        )
    fits = [
        p
        for p in found
        if p.pk not in claimed
        and p.currency == note.currency
        and abs(note.gross - p.expected_credit) <= p.return_ref.connection.tolerance
    ]
    if len(fits) == 1:
        return fits[0], ""
    order = _order(note.associated_ref)
    if not fits:
        return None, (
            f"No open return posting of source order {order} expects a credit of "
            f"{note.gross} {note.currency}."
        )
    return None, (
        f"{len(fits)} return postings of source order {order} expect a credit of "
        f"{note.gross} {note.currency}: match it by hand."
    )


def confirm(codes: dict[int, str], matcher: Matcher) -> int:
    """Confirm the outstanding postings among ``codes`` (posting id → credit note code).

    Inside the caller's transaction; each return is locked (in id order, so two
    imports never deadlock) before its posting is confirmed, as the Khaos channel does.
    """
    confirmed = 0
    ids = sorted(codes)
    for start in range(0, len(ids), CONFIRM_BATCH):
        chunk = ids[start : start + CONFIRM_BATCH]
        outstanding = Posting.objects.filter(pk__in=chunk, state__in=postings.OUTSTANDING)
        with timeline.batch():
            for posting in outstanding.order_by("return_ref_id", "pk"):
                posting.return_ref = lock_return(posting.return_ref_id)
                confirmed += postings.confirm(
                    posting, ref=codes[posting.pk], by=matcher.by, how="Khaos credit note export"
                )
    return confirmed


class MatchRefused(Exception):
    pass


@transaction.atomic
def match_by_hand(note: CreditNote, posting: Posting, user) -> bool:
    """A person ties an unmatched credit note to a return posting; True if it confirmed it."""
    note = CreditNote.objects.select_for_update().get(pk=note.pk)
    if note.posting_id is not None:
        raise MatchRefused(f"Credit note {note.code} is already matched.")
    if posting.kind != PostingKind.RETURN or posting.state not in MATCHABLE:
        raise MatchRefused(f"Posting {posting.associated_ref} is not a return posting Khaos has.")
    taken = CreditNote.objects.filter(posting=posting).values_list("code", flat=True).first()
    if taken:
        raise MatchRefused(f"Posting {posting.associated_ref} is already matched to {taken}.")
    matcher = Matcher(user=user)
    _tie(note, posting, MatchMethod.MANUAL, matcher)
    split([note])
    note.save()
    return bool(confirm({posting.pk: note.code}, matcher))
