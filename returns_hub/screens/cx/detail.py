"""Everything the CX view of one return shows, read in a fixed number of queries: the
return, its units, exchanges, Khaos documents, open problems, timeline and customer row."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.shortcuts import get_object_or_404

from returns_hub.choices import ExceptionKind, ExceptionStatus, PostingKind
from returns_hub.fixes import platform_customer
from returns_hub.models import (
    CustomerMapping,
    ExceptionCase,
    ExchangeRequest,
    Posting,
    Return,
    TimelineEntry,
)
from returns_hub.models.mappings import normalise_email
from returns_hub.screens.cx import holds, timeline

TIMELINE_LIMIT = 500  # a return's story is dozens of entries; this bounds a runaway one
POSTING_FIELDS = (
    "id",
    "kind",
    "associated_ref",
    "state",
    "exchange_id",
    "confirmation_ref",
    "ready_at",
    "first_downloaded_at",
    "confirmed_at",
    "withdrawn_reason",
)


@dataclass
class Exchange:
    request: ExchangeRequest
    order: Posting | None  # the -X posting, when the user may see postings and one exists


@dataclass
class CxReturn:
    ret: Return
    units: list
    exchanges: list[Exchange]
    return_postings: list[Posting]
    holds: list[holds.Hold]
    sentences: list[timeline.Sentence]
    timeline_cut: bool
    email: str
    customer_row: CustomerMapping | None
    platform_parts: dict[str, str] = field(default_factory=dict)

    @property
    def needs_address(self) -> bool:
        return any(h.case.kind == ExceptionKind.INCOMPLETE_ADDRESS for h in self.holds)

    def row_initial(self) -> dict[str, str]:
        """The row's form: the row as it is, its empty fields filled from what the platform
        sent (as the exception's fix link does); a new row takes the URN the hub knows."""
        row = self.customer_row
        initial = {name: value for name, value in self.platform_parts.items()}
        if row is not None:
            for name in ("urn", "name", "line1", "town", "postcode", "country"):
                if getattr(row, name):
                    initial[name] = getattr(row, name)
            return initial
        known = [h.case.details.get("urn") for h in self.holds if h.case.details]
        urn = next((value for value in known if value), "") or self.ret.urn
        return {**initial, **({"urn": urn} if urn else {})}


def load(return_id: int, user) -> CxReturn:
    ret = get_object_or_404(
        Return.objects.select_related("connection", "connection__khaos_channel"), pk=return_id
    )
    units = list(ret.units.select_related("product").order_by("id"))
    requests = list(ExchangeRequest.objects.filter(return_ref=ret).order_by("sequence", "id"))
    postings = []
    if user.has_perm("returns_hub.view_posting"):
        postings = list(Posting.objects.filter(return_ref=ret).only(*POSTING_FIELDS).order_by("id"))
    orders = {p.exchange_id: p for p in postings if p.kind == PostingKind.EXCHANGE_ORDER}
    cases = (
        ExceptionCase.objects.filter(return_ref=ret, status=ExceptionStatus.OPEN)
        .select_related("assignee")
        .order_by("created_at", "id")
    )
    entries = list(
        TimelineEntry.objects.filter(return_ref=ret)
        .select_related("actor", "unit")
        .order_by("at", "id")[: TIMELINE_LIMIT + 1]
    )
    email = normalise_email(ret.customer_email)
    row = None
    if email and user.has_perm("returns_hub.view_customermapping"):
        row = CustomerMapping.objects.filter(email=email).first()
    return CxReturn(
        ret=ret,
        units=units,
        exchanges=[Exchange(request=r, order=orders.get(r.pk)) for r in requests],
        return_postings=[p for p in postings if p.kind == PostingKind.RETURN],
        holds=holds.holds(cases),
        sentences=timeline.sentences(entries[:TIMELINE_LIMIT], ret),
        timeline_cut=len(entries) > TIMELINE_LIMIT,
        email=email,
        customer_row=row,
        platform_parts=platform_customer(ret),
    )
