"""/warehouse/: what the warehouse reads. Expected goods-in, the scan box, a return's
goods-in card and a pallet's check list. The actions (receive, grade) are in ``actions``.

Every page needs ``returns_hub.receive_unit`` (the warehouse and superusers): the same
permission the API asks to confirm an arrival. Anyone else logged in gets 403.
"""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from returns_hub.choices import ExceptionKind, ExceptionStatus, Team
from returns_hub.models import ExceptionCase, InboundShipment, ReturnUnit
from returns_hub.screens.lists import keyset_page, render_list
from returns_hub.screens.warehouse import cards, scan
from returns_hub.screens.warehouse.filtersets import (
    ARRIVED_STATES,
    EXPECTED_STATES,
    NOT_COMING_STATES,
    ExpectedUnitFilterSet,
    PalletUnitFilterSet,
)
from returns_hub.screens.warehouse.forms import ScanForm
from returns_hub.screens.warehouse.tables import ExpectedUnitTable, PalletUnitTable

WAREHOUSE = "returns_hub.receive_unit"
NOT_ARRIVED_SHOWN = 10
warehouse_only = permission_required(WAREHOUSE, raise_exception=True)


def _not_arrived() -> dict:
    """Open ``units_not_arrived`` cases, oldest first, and how many there are."""
    cases = ExceptionCase.objects.filter(
        kind=ExceptionKind.UNITS_NOT_ARRIVED, status=ExceptionStatus.OPEN
    )
    query = urlencode({"kind": ExceptionKind.UNITS_NOT_ARRIVED, "owner": Team.WAREHOUSE})
    return {
        "not_arrived_count": cases.count(),
        "not_arrived": list(cases.select_related("return_ref").order_by("pk")[:NOT_ARRIVED_SHOWN]),
        "not_arrived_url": f"/exceptions/?{query}",
    }


@require_GET
@warehouse_only
def index(request):
    """Expected goods-in: units expected or in transit, newest first."""
    units = ReturnUnit.objects.filter(state__in=EXPECTED_STATES).select_related(
        "return_ref__connection", "shipment"
    )
    filterset = ExpectedUnitFilterSet(request.GET, queryset=units)
    if filterset.is_valid():
        page, next_after = keyset_page(
            filterset.qs, "id", request.GET.get("after"), descending=True
        )
        status = 200
    else:
        page, next_after, status = [], None, 400
    return render_list(
        request,
        filterset=filterset,
        table=ExpectedUnitTable(page),
        title="Expected goods-in",
        intro="Units the platforms have announced or are on their way, newest first. "
        "Scan a label, a return, an order or an item to open its goods-in card.",
        next_after=next_after,
        status=status,
        template="returns_hub/warehouse/index.html",
        extra={"scan_form": ScanForm(), **_not_arrived()},
    )


@require_GET
@warehouse_only
def scan_code(request):
    """One match opens it; several are listed; none says so, with the box ready again."""
    form = ScanForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "returns_hub/warehouse/scan.html",
            {"scan_form": form, "result": None},
            status=400,
        )
    result = scan.find(form.cleaned_data["code"])
    if len(result.returns) == 1 and not result.pallets:
        card = reverse("warehouse:card", args=[result.returns[0].pk])
        return redirect(f"{card}?{urlencode({'scanned': result.code})}")
    if len(result.pallets) == 1 and not result.returns:
        return redirect("warehouse:pallet", reference=result.pallets[0].reference)
    # The box is empty again for the next scan; the code is shown in the message.
    return render(
        request, "returns_hub/warehouse/scan.html", {"scan_form": ScanForm(), "result": result}
    )


@require_GET
@warehouse_only
def card(request, pk: int):
    """A return's goods-in card: receive and grade its units."""
    context = {
        "card": cards.build(pk, scanned=request.GET.get("scanned", "")),
        "scan_form": ScanForm(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "returns_hub/warehouse/_card.html", {**context, "partial": True})
    return render(request, "returns_hub/warehouse/card.html", context)


@require_GET
@warehouse_only
def pallet(request, reference: str):
    """A pallet's expected units, checked off as they arrive, and what is still missing."""
    shipments = list(
        InboundShipment.objects.filter(reference=reference).select_related("connection")
    )
    if not shipments:
        raise Http404("No pallet has this reference.")
    units = ReturnUnit.objects.filter(shipment__in=shipments).select_related("return_ref")
    counts = units.aggregate(
        expected=Count("pk"),
        received=Count("pk", filter=Q(state__in=ARRIVED_STATES)),
        missing=Count("pk", filter=Q(state__in=EXPECTED_STATES)),
        not_coming=Count("pk", filter=Q(state__in=NOT_COMING_STATES)),
    )
    filterset = PalletUnitFilterSet(request.GET, queryset=units)
    if filterset.is_valid():
        page, next_after = keyset_page(filterset.qs, "id", request.GET.get("after"))
        status = 200
    else:
        page, next_after, status = [], None, 400
    return render_list(
        request,
        filterset=filterset,
        table=PalletUnitTable(page),
        title=f"Pallet {reference}",
        intro="The units this pallet should hold, checked off as they are received.",
        next_after=next_after,
        status=status,
        template="returns_hub/warehouse/pallet.html",
        extra={"shipments": shipments, "counts": counts, "scan_form": ScanForm()},
    )
