"""/returns/<id>/: one return whole — units, timeline, postings with their Khaos
documents, exceptions with their fix links, liabilities and money — in a fixed number of
queries. Its one action, finance approving a value mismatch, calls the same service as
the API (``actions.approve_value``) under the same permission."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from returns_hub.choices import ExceptionKind, ExceptionStatus, Team
from returns_hub.fixes import fix_links
from returns_hub.models import ExceptionCase, Posting, Return, ReturnUnit, TimelineEntry
from returns_hub.screens.returns.presenters import money, pretty_document
from returns_hub.services import actions

# Read through the posting when reconciliation is installed; returns_hub never imports it.
POSTING_RELATED = ["channel", *(["credit_note"] if hasattr(Posting, "credit_note") else [])]


class ApproveValueForm(forms.Form):
    note = forms.CharField(
        label="Note for the approval", max_length=1000, required=False, widget=forms.Textarea
    )


def _screen_url(name: str, **query) -> str:
    """A team screen's URL with a query, or "" while that screen does not exist."""
    try:
        url = reverse(name)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(query)}" if query else url


def _return_with_everything(pk) -> Return:
    queryset = Return.objects.select_related("connection").prefetch_related(
        Prefetch("units", ReturnUnit.objects.select_related("product", "khaos_return_reason")),
        "exchanges",
        Prefetch("postings", Posting.objects.select_related(*POSTING_RELATED).order_by("id")),
        Prefetch(
            "exceptions",
            ExceptionCase.objects.select_related("assignee", "resolved_by").order_by("-id"),
        ),
        Prefetch("timeline", TimelineEntry.objects.select_related("actor", "unit")),
        "liabilities",
    )
    return get_object_or_404(queryset, pk=pk)


@require_GET
@permission_required("returns_hub.view_return", raise_exception=True)
def detail(request, pk: int):
    ret = _return_with_everything(pk)
    user = request.user
    units = list(ret.units.all())
    postings = list(ret.postings.all()) if user.has_perm("returns_hub.view_posting") else []
    for posting in postings:
        posting.pretty = pretty_document(posting.document)
    team_names = {group.name for group in user.groups.all()} if not user.is_superuser else None
    cases = list(ret.exceptions.all())
    # Every open case's fix link at once: a fixed number of queries whatever the cases.
    links = fix_links([case for case in cases if case.status == ExceptionStatus.OPEN])
    for case in cases:
        case.fix = links.get(case.pk)
        case.mine = team_names is None or case.owner in team_names
        case.owner_label = Team(case.owner).label if case.owner in Team.values else case.owner
    open_cases = [case for case in cases if case.status == ExceptionStatus.OPEN]
    value_mismatch = next(
        (case for case in open_cases if case.kind == ExceptionKind.VALUE_MISMATCH), None
    )
    context = {
        "ret": ret,
        "units": units,
        "exchanges": list(ret.exchanges.all()),
        "postings": postings,
        "may_view_postings": user.has_perm("returns_hub.view_posting"),
        "cases": cases,
        "open_count": len(open_cases),
        "timeline": list(ret.timeline.all()),
        "liabilities": list(ret.liabilities.all()),
        "money": money(ret, units, postings or list(ret.postings.all())),
        "value_mismatch": value_mismatch,
        "may_approve": value_mismatch is not None and user.has_perm("returns_hub.approve_value"),
        "approve_form": ApproveValueForm(),
        "may_grade": user.has_perm("returns_hub.grade_unit"),
        "warehouse_url": _screen_url("warehouse:index", q=ret.associated_ref),
        "exceptions_url": _screen_url("exceptions:index", return_id=ret.pk),
        "cx_url": _screen_url("cx:index", q=ret.associated_ref),
    }
    return render(request, "returns_hub/returns/detail.html", context)


@require_POST
@permission_required("returns_hub.approve_value", raise_exception=True)
def approve_value(request, pk: int):
    """Finance accepts what the platform settled (the API's ``approve-value``)."""
    ret = get_object_or_404(Return, pk=pk)
    form = ApproveValueForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long.")
    else:
        try:
            actions.approve_value(ret, user=request.user, note=form.cleaned_data["note"])
        except actions.ActionError as error:
            messages.error(request, f"Not approved: {error}")
        else:
            messages.success(request, f"The settlement of {ret} is approved.")
    return redirect("return-detail", pk=ret.pk)
