"""Resolving a return's units to what Khaos knows: Stock Codes, reasons, sites, URN.

Each resolver returns its answer or a ``Problem``: the exception kind, the
cause it names, and a message a person can act on. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from returns_hub.choices import NON_RETURN_OUTCOMES, ExceptionKind
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
)
from returns_hub.models.mappings import normalise_email
from returns_hub.services import khaos_documents
from returns_hub.services.khaos_documents import InvoiceParty


@dataclass(frozen=True)
class Problem:
    kind: ExceptionKind
    cause: str  # what, within the return, is wrong (a SKU, a reason, …)
    message: str
    unit: ReturnUnit | None = None
    exchange: object | None = None
    details: dict = field(default_factory=dict)

    def cause_key(self, ret: Return) -> str:
        return f"{self.kind}:{ret.pk}:{self.cause}"


@dataclass(frozen=True)
class ReasonChoice:
    reason: KhaosReturnReason
    site_id: int | None


def _product_by_code(code: str) -> KhaosProduct | None:
    """A product by its current Stock Code, else by a code it had before a rename."""
    if not code:
        return None
    product = KhaosProduct.objects.filter(stock_code=code).order_by("deleted", "-id").first()
    if product is not None:
        return product
    return KhaosProduct.objects.filter(old_codes__stock_code=code).order_by("-id").first()


def find_product(platform: str, sku: str, barcode: str) -> tuple[KhaosProduct | None, str]:
    """SKU mapping, then the SKU as a Stock Code, then the barcode. (product, how)"""
    mapping = (
        SkuMapping.objects.filter(platform=platform, platform_sku=sku).first() if sku else None
    )
    if mapping is not None:
        return _product_by_code(mapping.stock_code), f"SKU mapping → {mapping.stock_code}"
    product = _product_by_code(sku)
    if product is not None:
        return product, "Stock Code"
    if barcode:
        product = KhaosProduct.objects.filter(barcodes__barcode=barcode).order_by("deleted").first()
        if product is not None:
            return product, f"barcode {barcode}"
    return None, ""


def resolve_product(platform: str, sku: str, barcode: str, *, what: str) -> KhaosProduct | Problem:
    product, how = find_product(platform, sku, barcode)
    label = sku or (f"barcode {barcode}" if barcode else "(no SKU or barcode)")
    if product is None:
        mapped = (
            SkuMapping.objects.filter(platform=platform, platform_sku=sku).first() if sku else None
        )
        detail = (
            f"mapped to {mapped.stock_code}, which Khaos does not know"
            if mapped
            else "not a Khaos Stock Code, not in the SKU mapping table"
            + (", and its barcode is unknown" if barcode else ", and it has no barcode")
        )
        return Problem(
            ExceptionKind.UNKNOWN_SKU,
            f"{sku}|{barcode}",
            f"{what} {label}: {detail}.",
            details={"sku": sku, "barcode": barcode},
        )
    if not product.is_active:
        why = "deleted in Khaos" if product.deleted else "discontinued in Khaos"
        return Problem(
            ExceptionKind.INACTIVE_SKU,
            product.stock_id,
            f"{what} {label} resolves to {product.stock_code} (StockID {product.stock_id}), "
            f"which is {why}.",
            details={
                "sku": sku,
                "stock_id": product.stock_id,
                "stock_code": product.stock_code,
                "resolved_by": how,
            },
        )
    return product


def resolve_unit_product(ret: Return, unit: ReturnUnit) -> KhaosProduct | Problem:
    result = resolve_product(ret.connection.platform, unit.platform_sku, unit.barcode, what="SKU")
    if isinstance(result, Problem):
        return Problem(result.kind, result.cause, result.message, unit=unit, details=result.details)
    return result


def disposition_code(unit: ReturnUnit) -> str:
    """The code the disposition table is looked up by: the outcome for a kept item."""
    return unit.outcome if unit.outcome in NON_RETURN_OUTCOMES else unit.disposition


def resolve_by_disposition(ret: Return, unit: ReturnUnit) -> ReasonChoice | Problem:
    code = disposition_code(unit)
    row = (
        DispositionMapping.objects.select_related("khaos_return_reason")
        .filter(platform=ret.connection.platform, disposition=code)
        .first()
    )
    if row is None:
        return Problem(
            ExceptionKind.UNMAPPED_DISPOSITION,
            code,
            f"Disposition {code!r} of unit {unit.external_id} ({unit.platform_sku}) is not in the "
            f"{ret.connection.platform} disposition table; the unit is not treated as sellable.",
            unit=unit,
            details={"disposition": code},
        )
    if code in NON_RETURN_OUTCOMES:
        problem = _restocking_outcome(ret, unit, row)
        if problem is not None:
            return problem
    return ReasonChoice(row.khaos_return_reason, row.site_id)


def _restocking_outcome(ret: Return, unit: ReturnUnit, row: DispositionMapping) -> Problem | None:
    """A row saved before the rule, or written around it: never restock goods not here."""
    try:
        row.clean()  # the rule's one home
    except ValidationError as error:
        return Problem(
            ExceptionKind.UNMAPPED_DISPOSITION,
            row.disposition,
            f"Unit {unit.external_id} ({unit.platform_sku}) is not coming back, but the "
            f"{ret.connection.platform} disposition row for it is wrong: "
            f"{' '.join(error.messages)} Correct the row.",
            unit=unit,
            details={"disposition": row.disposition},
        )
    return None


def resolve_by_reason(ret: Return, unit: ReturnUnit) -> ReasonChoice | Problem:
    row = (
        ReasonMapping.objects.select_related("khaos_return_reason")
        .filter(platform=ret.connection.platform, reason=unit.reason)
        .first()
    )
    if row is None:
        return Problem(
            ExceptionKind.UNMAPPED_REASON,
            unit.reason,
            f"Return reason {unit.reason!r} is not in the {ret.connection.platform} reason table.",
            unit=unit,
            details={"reason": unit.reason},
        )
    return ReasonChoice(row.khaos_return_reason, None)


def resolve_urn(ret: Return, channel: KhaosChannel | None) -> str | Problem:
    email = normalise_email(ret.customer_email)
    if email:
        row = CustomerMapping.objects.filter(email=email).first()
        if row is not None:
            return row.urn
    if channel is not None and channel.default_urn:
        return channel.default_urn
    return Problem(
        ExceptionKind.UNKNOWN_CUSTOMER,
        "customer",
        f"Customer {email or '(no email)'} is not in the customer table and the channel has no "
        "default URN.",
        details={"email": email},
    )


def resolve_source_order(ret: Return) -> str | Problem:
    if khaos_documents.clean_text(ret.order_ref):
        return ret.order_ref
    return Problem(
        ExceptionKind.MISSING_SOURCE_ORDER,
        "order",
        "The platform gave no order number, so Khaos cannot tell which sale is returned.",
    )


def resolve_invoice(ret: Return, *, urn: str | None = None) -> InvoiceParty | Problem:
    """The invoice address (Line1, Town, Country) and contact (a forename or surname)
    Khaos requires: the platform's, else the customer mapping row's. ``urn``, when
    known, goes into the case so its fix (the customer row's form) is pre-filled."""
    party = khaos_documents.invoice_party(ret)
    if party.complete:
        return party
    email = normalise_email(ret.customer_email)
    missing = khaos_documents.describe_missing(party.missing)
    if not email:
        where = "The return has no customer email to find a customer row by."
    elif party.row is None:
        where = f"There is no customer row for {email}: add one with the customer's address."
    elif set(party.missing) <= set(party.row_missing):
        where = f"The customer row for {email} has none of these either: complete it."
    else:
        where = (
            f"The customer row for {email} has "
            f"{khaos_documents.describe_missing(party.row_missing)}: complete it (an address "
            "is taken whole from the platform or the customer row, never mixed)."
        )
    details = {
        "missing": list(party.missing),
        "email": email,
        "address_from": party.address_from,
        "name_from": party.name_from,
    }
    if urn:
        details["urn"] = urn
    return Problem(
        ExceptionKind.INCOMPLETE_ADDRESS,
        "address",
        f"Khaos requires an invoice address (Line1, Town, Country) and a contact's forename "
        f"or surname, and this return has {missing}. {where}",
        details=details,
    )
