"""Which form fixes an exception: the mapping row to add (pre-filled) or to correct.

One answer for every screen, the admin's link and the API's ``fix_url``. The links open
the team screens: the mapping screens take a form's initial values from the add page's
query string (as the admin does), and a customer's row is completed on the CX page of
the return it holds, which checks the address is one Khaos takes.

Two kinds look a row up (the customer's row to complete, a non-return outcome's
disposition row to correct); ``fix_links`` does so for a whole list at once, so a page
costs the same queries whatever its cases.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from returns_hub.choices import NON_RETURN_OUTCOMES, ExceptionKind, StockAction
from returns_hub.models import CustomerMapping, DispositionMapping, ExceptionCase
from returns_hub.models.mappings import normalise_email
from returns_hub.services.khaos_documents import clean_text

FixLink = tuple[str, str]
SKU_KINDS = (ExceptionKind.UNKNOWN_SKU, ExceptionKind.INACTIVE_SKU)
CUSTOMER_KINDS = (ExceptionKind.UNKNOWN_CUSTOMER, ExceptionKind.INCOMPLETE_ADDRESS)


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
    return normalise_email(email)


def _with_query(url: str, initial: dict[str, str]) -> str:
    filled = {name: value for name, value in initial.items() if value}
    return f"{url}?{urlencode(filled)}" if filled else url


def _add_url(table: str, initial: dict[str, str]) -> str:
    """The mapping screen's add form for ``table`` (its URL slug), pre-filled."""
    return _with_query(reverse("mappings:add", args=[table]), initial)


def _edit_url(table: str, pk: int, initial: dict[str, str] | None = None) -> str:
    return _with_query(reverse("mappings:edit", args=[table, pk]), initial or {})


def _corrected_disposition(case: ExceptionCase) -> tuple[str, str] | None:
    """(platform, code) of a non-return outcome's disposition: a row may exist, held
    because it restocks, and is then corrected rather than added."""
    code = (case.details or {}).get("disposition", "")
    if case.kind != ExceptionKind.UNMAPPED_DISPOSITION or code not in NON_RETURN_OUTCOMES:
        return None
    return _platform(case), code


def _completed_email(case: ExceptionCase) -> str:
    """The email whose row an incomplete address completes (a known customer missing an
    address needs their row completed, not a second row), or ""."""
    return _customer_email(case) if case.kind == ExceptionKind.INCOMPLETE_ADDRESS else ""


def fix_links(cases: list[ExceptionCase]) -> dict[int, FixLink | None]:
    """Each case's (label, url) of the form that fixes it, or None if no row fixes it;
    at most two queries whatever the cases.

    The cases need their return and its connection, and their connection, loaded.
    """
    emails = {_completed_email(case) for case in cases} - {""}
    customer_rows = (
        dict(CustomerMapping.objects.filter(email__in=emails).values_list("email", "pk"))
        if emails
        else {}
    )
    outcomes = {key for case in cases if (key := _corrected_disposition(case))}
    disposition_rows = {}
    if outcomes:
        found = DispositionMapping.objects.filter(
            platform__in={platform for platform, _ in outcomes},
            disposition__in={code for _, code in outcomes},
        )
        disposition_rows = {
            (platform, code): pk
            for platform, code, pk in found.values_list("platform", "disposition", "pk")
        }
    return {case.pk: _link(case, customer_rows, disposition_rows) for case in cases}


def fix_link(case: ExceptionCase) -> FixLink | None:
    """(label, url) of the form that fixes ``case``, or None if no row fixes it."""
    return fix_links([case])[case.pk]


def _link(case: ExceptionCase, customer_rows, disposition_rows) -> FixLink | None:
    details = case.details or {}
    kind = case.kind
    if kind in SKU_KINDS:
        initial = {"platform": _platform(case), "platform_sku": details.get("sku", "")}
        return "Add SKU mapping", _add_url("skus", initial)
    if kind == ExceptionKind.UNMAPPED_REASON:
        initial = {"platform": _platform(case), "reason": details.get("reason", "")}
        return "Add reason mapping", _add_url("reasons", initial)
    if kind == ExceptionKind.UNMAPPED_DISPOSITION:
        return _disposition_link(case, disposition_rows)
    if kind in CUSTOMER_KINDS:
        return _customer_link(case, customer_rows.get(_completed_email(case)))
    return None


def _disposition_link(case: ExceptionCase, disposition_rows) -> FixLink:
    outcome = _corrected_disposition(case)
    if outcome is not None and (row := disposition_rows.get(outcome)) is not None:
        return "Edit disposition mapping", _edit_url("dispositions", row)
    code = (case.details or {}).get("disposition", "")
    initial = {"platform": _platform(case), "disposition": code}
    if outcome is not None:
        initial["stock_action"] = StockAction.WRITE_OFF  # it may never restock
    return "Add disposition mapping", _add_url("dispositions", initial)


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


def _customer_link(case: ExceptionCase, row: int | None) -> FixLink:
    label = "Edit customer mapping" if row is not None else "Add customer mapping"
    email = _customer_email(case)
    ret = case.return_ref if case.return_ref_id is not None else None
    if ret is not None and email and email == normalise_email(ret.customer_email):
        # The return's CX page edits this very row, pre-filled from the row and what the
        # platform sent, refuses an address Khaos would still refuse, and moves it on.
        return label, reverse("cx:return", args=[ret.pk]) + "#customer-row"
    initial = platform_customer(ret)
    if row is not None:  # the screen fills only the row's empty fields from these
        return label, _edit_url("customers", row, initial)
    urn = (case.details or {}).get("urn", "")
    return label, _add_url("customers", {"email": email, "urn": urn, **initial})
