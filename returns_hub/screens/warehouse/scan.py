"""What a scanned or typed code names: a return, several, a pallet, or nothing.

A code is tried as each thing a warehouse hand may hold: the return label's barcode
(``Return.label_tracking``), the platform's return id, the AssociatedRef, the hub's own
return number, the order number, a pallet reference, or a unit's SKU / barcode / Khaos
Stock Code. A SKU names the returns still waiting for that item (expected, in transit or
received and not yet graded): the one on the bench, not every return it was ever on.

Two queries whatever the code: the returns, then the pallets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from returns_hub.choices import UnitState
from returns_hub.models import InboundShipment, KhaosProduct, ProductBarcode, Return, ReturnUnit

MAX_RESULTS = 20  # a short list: more than this, and the code is too vague to act on
AWAITING = (UnitState.EXPECTED, UnitState.IN_TRANSIT, UnitState.RECEIVED)
LARGEST_ID = 2**63 - 1


@dataclass
class ScanResult:
    code: str
    returns: list[Return] = field(default_factory=list)
    pallets: list[InboundShipment] = field(default_factory=list)
    more: bool = False  # over MAX_RESULTS matched: the list is cut short

    @property
    def count(self) -> int:
        return len(self.returns) + len(self.pallets)


def _return_matches(code: str) -> Q:
    order = code.lstrip("#")
    # Typed in lower case: the prefix is printed upper (HR-…), the platform's id as it is.
    prefix, dash, rest = code.partition("-")
    refs = {code, code.upper(), f"{prefix.upper()}{dash}{rest}"}
    named = (
        Q(label_tracking=code)
        | Q(external_id=code)
        | Q(associated_ref__in=refs)
        | Q(order_ref=order)
    )
    if code.isdigit() and 0 < int(code) <= LARGEST_ID:
        named |= Q(pk=int(code))
    return named


def _units_with(code: str):
    """Units still awaited whose SKU, barcode or Khaos product is the code."""
    products = KhaosProduct.objects.filter(stock_code=code).values("pk")
    barcoded = ProductBarcode.objects.filter(barcode=code).values("product_id")
    return ReturnUnit.objects.filter(state__in=AWAITING).filter(
        Q(platform_sku=code) | Q(barcode=code) | Q(product__in=products) | Q(product__in=barcoded)
    )


def find(code: str) -> ScanResult:
    code = code.strip()
    result = ScanResult(code)
    if not code:
        return result
    # A UNION of the two searches, not an OR across them: each side then uses its own
    # indexes (an OR with the units' subquery read every return).
    named = Return.objects.filter(_return_matches(code)).values("pk")
    matching = named.union(_units_with(code).values("return_ref_id"), all=True)
    found = list(
        Return.objects.filter(pk__in=matching)
        .select_related("connection")
        .order_by("-pk")[: MAX_RESULTS + 1]
    )
    result.pallets = list(
        InboundShipment.objects.filter(reference=code)
        .select_related("connection")
        .order_by("-pk")[:MAX_RESULTS]
    )
    result.more = len(found) > MAX_RESULTS
    result.returns = found[:MAX_RESULTS]
    return result
