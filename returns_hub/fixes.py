"""Which form fixes an exception: the mapping row to add (pre-filled) or to correct.

One answer for the admin's link and the API's ``fix_url``. Django's admin takes a
form's initial values from the add page's query string.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from returns_hub.choices import NON_RETURN_OUTCOMES, ExceptionKind, StockAction
from returns_hub.models import CustomerMapping, DispositionMapping, ExceptionCase
from returns_hub.models.mappings import normalise_email
from returns_hub.services.khaos_documents import clean_text


def _platform(case: ExceptionCase) -> str:
    # The return's connection is the case's; it is already loaded wherever a
    # return is shown, so prefer it and spare a query.
    if case.return_ref_id is not None:
        return case.return_ref.connection.platform
    if case.connection_id is not None:
        return case.connection.platform
    return ""


def _customer_email(case: ExceptionCase) -> str:
    email = (case.details or {}).get("email") or ""
    if not email and case.return_ref_id is not None:
        email = case.return_ref.customer_email
    return email


def _add_url(model_name: str, initial: dict[str, str]) -> str:
    url = reverse(f"admin:returns_hub_{model_name}_add")
    filled = {name: value for name, value in initial.items() if value}
    return f"{url}?{urlencode(filled)}" if filled else url


def fix_link(case: ExceptionCase) -> tuple[str, str] | None:
    """(label, url) of the add form that fixes ``case``, or None if no row fixes it."""
    details = case.details or {}
    kind = case.kind
    if kind in (ExceptionKind.UNKNOWN_SKU, ExceptionKind.INACTIVE_SKU):
        initial = {"platform": _platform(case), "platform_sku": details.get("sku", "")}
        return "Add SKU mapping", _add_url("skumapping", initial)
    if kind == ExceptionKind.UNMAPPED_REASON:
        initial = {"platform": _platform(case), "reason": details.get("reason", "")}
        return "Add reason mapping", _add_url("reasonmapping", initial)
    if kind == ExceptionKind.UNMAPPED_DISPOSITION:
        code = details.get("disposition", "")
        platform = _platform(case)
        if code in NON_RETURN_OUTCOMES:
            # Such a row may exist and be held because it restocks: correct it, not add one.
            row = DispositionMapping.objects.filter(platform=platform, disposition=code)
            row = row.only("pk").first()
            if row is not None:
                url = reverse("admin:returns_hub_dispositionmapping_change", args=[row.pk])
                return "Edit disposition mapping", url
        initial = {"platform": platform, "disposition": code}
        if code in NON_RETURN_OUTCOMES:
            initial["stock_action"] = StockAction.WRITE_OFF  # it may never restock
        return "Add disposition mapping", _add_url("dispositionmapping", initial)
    if kind in (ExceptionKind.UNKNOWN_CUSTOMER, ExceptionKind.INCOMPLETE_ADDRESS):
        return _customer_link(case)
    return None


def platform_customer(ret) -> dict[str, str]:
    """The name and address parts the platform sent, as a customer row's fields: what
    the row's form is pre-filled with (a person types only what is missing)."""
    if ret is None:
        return {}
    address = ret.address if isinstance(ret.address, dict) else {}
    parts = {
        "name": ret.customer_name,
        "line1": address.get("line1"),
        "town": address.get("town"),
        "postcode": address.get("postcode"),
        "country": address.get("country_code"),
    }
    limits = {name: CustomerMapping._meta.get_field(name).max_length for name in parts}
    cleaned = {name: clean_text(value)[: limits[name]].strip() for name, value in parts.items()}
    return {name: value for name, value in cleaned.items() if value}


def _customer_link(case: ExceptionCase) -> tuple[str, str]:
    email = normalise_email(_customer_email(case))
    ret = case.return_ref if case.return_ref_id is not None else None
    initial = platform_customer(ret)
    # A known customer missing an address needs their row completed, not a second row:
    # its form fills the row's empty fields from the platform's parts.
    row = (
        CustomerMapping.objects.filter(email=email).only("pk").first()
        if case.kind == ExceptionKind.INCOMPLETE_ADDRESS and email
        else None
    )
    if row is not None:
        url = reverse("admin:returns_hub_customermapping_change", args=[row.pk])
        return "Edit customer mapping", f"{url}?{urlencode(initial)}" if initial else url
    urn = (case.details or {}).get("urn", "")
    return "Add customer mapping", _add_url(
        "customermapping", {"email": email, "urn": urn, **initial}
    )
