"""Links from a case: to its return and to the form that fixes its cause.

``fixes.fix_link`` answers for one case, and for two kinds it looks a row up (the
customer's row to complete, a non-return outcome's disposition row to correct): one query
per such case. A page of the queue asks ``fix_links`` instead, which looks those rows up
for the whole page at once, so the page costs the same number of queries whatever its
cases, and builds the same links ``fix_link`` would.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from returns_hub import fixes
from returns_hub.choices import NON_RETURN_OUTCOMES, ExceptionKind, StockAction
from returns_hub.models import CustomerMapping, DispositionMapping, ExceptionCase
from returns_hub.models.mappings import normalise_email

FixLink = tuple[str, str]


def return_url(return_id: int) -> str:
    """The return's own screen, else (until it exists) its admin page."""
    try:
        return reverse("return-detail", args=[return_id])
    except NoReverseMatch:
        return reverse("admin:returns_hub_return_change", args=[return_id])


def _customer_email(case: ExceptionCase) -> str:
    return normalise_email(fixes._customer_email(case))


def _corrected_disposition(case: ExceptionCase) -> tuple[str, str] | None:
    """(platform, code) of a non-return outcome's disposition: a row may exist, held
    because it restocks, and is then corrected rather than added."""
    code = (case.details or {}).get("disposition", "")
    if case.kind != ExceptionKind.UNMAPPED_DISPOSITION or code not in NON_RETURN_OUTCOMES:
        return None
    return fixes._platform(case), code


def fix_links(cases: list[ExceptionCase]) -> dict[int, FixLink | None]:
    """Each case's (label, url) as ``fixes.fix_link`` gives it, in at most two queries.

    The cases need their return and its connection, and their connection, loaded.
    """
    addresses = [c for c in cases if c.kind == ExceptionKind.INCOMPLETE_ADDRESS]
    emails = {_customer_email(case) for case in addresses} - {""}
    customer_rows = (
        dict(CustomerMapping.objects.filter(email__in=emails).values_list("email", "pk"))
        if emails
        else {}
    )
    outcomes = {case.pk: key for case in cases if (key := _corrected_disposition(case))}
    disposition_rows = {}
    if outcomes:
        platforms = {platform for platform, _ in outcomes.values()}
        codes = {code for _, code in outcomes.values()}
        found = DispositionMapping.objects.filter(platform__in=platforms, disposition__in=codes)
        disposition_rows = {
            (platform, code): pk
            for platform, code, pk in found.values_list("platform", "disposition", "pk")
        }

    address_pks = {case.pk for case in addresses}
    links: dict[int, FixLink | None] = {}
    for case in cases:
        if case.pk in address_pks:
            links[case.pk] = _address_link(case, customer_rows)
        elif case.pk in outcomes:
            links[case.pk] = _outcome_link(case, *outcomes[case.pk], disposition_rows)
        else:
            links[case.pk] = fixes.fix_link(case)  # no lookup for the other kinds
    return links


def _address_link(case: ExceptionCase, customer_rows: dict[str, int]) -> FixLink:
    email = _customer_email(case)
    initial = fixes.platform_customer(case.return_ref if case.return_ref_id else None)
    row = customer_rows.get(email)
    if row is None:  # no row to complete: add one, as for an unknown customer
        urn = (case.details or {}).get("urn", "")
        return "Add customer mapping", fixes._add_url(
            "customermapping", {"email": email, "urn": urn, **initial}
        )
    url = reverse("admin:returns_hub_customermapping_change", args=[row])
    return "Edit customer mapping", f"{url}?{urlencode(initial)}" if initial else url


def _outcome_link(case, platform: str, code: str, disposition_rows) -> FixLink:
    row = disposition_rows.get((platform, code))
    if row is not None:
        url = reverse("admin:returns_hub_dispositionmapping_change", args=[row])
        return "Edit disposition mapping", url
    initial = {"platform": platform, "disposition": code, "stock_action": StockAction.WRITE_OFF}
    return "Add disposition mapping", fixes._add_url("dispositionmapping", initial)
