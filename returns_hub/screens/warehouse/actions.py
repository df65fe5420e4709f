"""/warehouse/ actions: a unit received, a unit graded. Each calls the same service as the
API (``returns_hub.services.actions``) with the same permission; the screen writes nothing
itself.

With htmx the answer is the return's card alone, drawn again with the outcome as a message
(422 when the service refused: htmx swaps it in all the same). Without JavaScript the form
posts and the browser is sent back to the card (302), the message waiting there.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from returns_hub.models import ReturnUnit
from returns_hub.screens.warehouse import cards
from returns_hub.screens.warehouse.forms import GradeForm, ScanForm
from returns_hub.screens.warehouse.grading import UnknownGrade, grades_for, pick
from returns_hub.services import actions


def _unit(return_id: int, unit_id: int) -> ReturnUnit:
    units = ReturnUnit.objects.select_related("return_ref__connection")
    return get_object_or_404(units, pk=unit_id, return_ref_id=return_id)


def _label(unit: ReturnUnit) -> str:
    return unit.platform_sku or unit.barcode or f"unit {unit.external_id}"


def _answer(request, return_id: int, *, refused: bool):
    if request.headers.get("HX-Request"):
        context = {"card": cards.build(return_id), "scan_form": ScanForm(), "partial": True}
        status = 422 if refused else 200
        return render(request, "returns_hub/warehouse/_card.html", context, status=status)
    return redirect("warehouse:card", pk=return_id)


@require_POST
@permission_required("returns_hub.receive_unit", raise_exception=True)
def receive(request, pk: int, unit_id: int):
    unit = _unit(pk, unit_id)
    try:
        actions.receive_unit(unit, user=request.user)
    except actions.ActionError as error:
        messages.error(request, f"{_label(unit)} not received: {error}")
        return _answer(request, pk, refused=True)
    messages.success(request, f"{_label(unit)} received.")
    return _answer(request, pk, refused=False)


@require_POST
@permission_required("returns_hub.grade_unit", raise_exception=True)
def grade(request, pk: int, unit_id: int):
    unit = _unit(pk, unit_id)
    form = GradeForm(request.POST)
    try:
        if not form.is_valid():
            raise UnknownGrade("; ".join(e for errors in form.errors.values() for e in errors))
        chosen = pick(grades_for(unit.return_ref.connection.platform), form.typed())
        actions.grade_unit(
            unit, chosen.code, user=request.user, condition=form.cleaned_data["condition"]
        )
    except (UnknownGrade, actions.ActionError) as error:
        messages.error(request, f"{_label(unit)} not graded: {error}")
        return _answer(request, pk, refused=True)
    messages.success(
        request, f"{_label(unit)} graded {chosen.code} ({chosen.stock_action_label.lower()})."
    )
    return _answer(request, pk, refused=False)
