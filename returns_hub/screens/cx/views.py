"""CX screens: find a return by order number, email or return id; read its story, its
exchanges' Khaos order status and what holds it; complete the customer's row.

Every team that may view returns (the role matrix: finance, warehouse, cx, data) may look;
the Khaos documents need ``view_posting`` and the customer row ``view_customermapping``;
changing the row needs ``change_customermapping`` (cx and data), as in the API and admin,
and goes through ``services.customers`` (this screen writes nothing itself).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from returns_hub.choices import ExceptionStatus
from returns_hub.models import CustomerMapping, ExceptionCase, Return
from returns_hub.screens.cx import detail
from returns_hub.screens.cx.filtersets import ReturnLookupFilterSet
from returns_hub.screens.cx.forms import CustomerRowForm
from returns_hub.screens.cx.tables import ReturnLookupTable
from returns_hub.screens.lists import keyset_page, render_list
from returns_hub.services import customers
from returns_hub.services.errors import ActionError

VIEW = "returns_hub.view_return"
CHANGE_ROW = "returns_hub.change_customermapping"
ADD_ROW = "returns_hub.add_customermapping"
TEMPLATE = "returns_hub/cx/return.html"


def _open_cases():
    counted = (
        ExceptionCase.objects.filter(return_ref=OuterRef("pk"), status=ExceptionStatus.OPEN)
        .order_by()
        .values("return_ref")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _redirect(request, url: str) -> HttpResponse:
    """A plain redirect, or htmx's (a swap of #results must not receive a whole page)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_GET
@permission_required(VIEW, raise_exception=True)
def lookup(request):
    base = Return.objects.select_related("connection").annotate(open_cases=_open_cases())
    filterset = ReturnLookupFilterSet(request.GET, queryset=base)
    context = {
        "title": "Find a return",
        "intro": "Type an order number, a customer's email, or a return's id, AssociatedRef "
        "or platform return id.",
    }
    if not filterset.is_valid():
        return render_list(
            request,
            filterset=filterset,
            table=ReturnLookupTable([]),
            next_after=None,
            status=400,
            template="returns_hub/cx/lookup.html",
            **context,
        )
    searched = filterset.has_criteria()
    page, next_after = ([], None)
    if searched:
        page, next_after = keyset_page(
            filterset.qs, "id", request.GET.get("after"), descending=True
        )
    if request.GET.get("q") and len(page) == 1 and not next_after and not request.GET.get("after"):
        return _redirect(request, reverse("cx:return", args=[page[0].pk]))
    table = ReturnLookupTable(page)
    if not searched:
        table.empty_text = "Type something to look for."
    return render_list(
        request,
        filterset=filterset,
        table=table,
        next_after=next_after,
        template="returns_hub/cx/lookup.html",
        extra={"searched": searched, "query": request.GET.get("q", "")},
        **context,
    )


def _page(request, view: detail.CxReturn, form=None, status: int = 200):
    may_edit = request.user.has_perm(CHANGE_ROW) and (
        view.customer_row is not None or request.user.has_perm(ADD_ROW)
    )
    if form is None and may_edit and view.email:
        form = CustomerRowForm(
            initial=view.row_initial(),
            ret=view.ret,
            needs_address=view.needs_address,
            instance=view.customer_row or CustomerMapping(email=view.email),
        )
    context = {"view": view, "ret": view.ret, "form": form, "may_edit": may_edit}
    return render(request, TEMPLATE, context, status=status)


@require_GET
@permission_required(VIEW, raise_exception=True)
def return_view(request, pk: int):
    return _page(request, detail.load(pk, request.user))


@require_POST
@permission_required(VIEW, raise_exception=True)
@permission_required(CHANGE_ROW, raise_exception=True)
def save_customer_row(request, pk: int):
    view = detail.load(pk, request.user)
    if view.customer_row is None and not request.user.has_perm(ADD_ROW):
        raise PermissionDenied("adding a customer row needs add_customermapping")
    if not view.email:
        messages.error(request, "This return has no customer email: no row can be kept for it.")
        return _redirect(request, reverse("cx:return", args=[pk]))
    form = CustomerRowForm(
        request.POST,
        ret=view.ret,
        needs_address=view.needs_address,
        instance=view.customer_row or CustomerMapping(email=view.email),
    )
    if form.is_valid():
        values = {name: form.cleaned_data[name] for name in customers.FIELDS}
        try:
            customers.save_for_return(view.ret, values, user=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        except ActionError as error:
            form.add_error(None, str(error))
        else:
            _say_what_moved(request, view.ret)
            return _redirect(request, reverse("cx:return", args=[pk]))
    return _page(request, view, form=form, status=422)


def _say_what_moved(request, ret: Return) -> None:
    still = ret.exceptions.filter(status=ExceptionStatus.OPEN).count()
    if still:
        problems = "1 problem still holds" if still == 1 else f"{still} problems still hold"
        messages.warning(request, f"Customer row saved. {problems} the return: see below.")
    else:
        messages.success(request, "Customer row saved. Nothing holds the return now.")
