"""/exceptions/: the queue every team works from, and one case's page. Read only; the
actions live in ``action_views``.

Every team sees every case (``view_exceptioncase``); the queue opens on the user's own
team's open cases, oldest first. It pages by keyset on the id (the order cases were
opened, served by the ``exception_status_owner`` index) and costs a fixed number of
queries whatever the number of rows.
"""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from returns_hub.api.permissions import owns_exception
from returns_hub.choices import Cause, ExceptionKind, ExceptionStatus
from returns_hub.fixes import fix_link, fix_links
from returns_hub.models import ExceptionCase
from returns_hub.screens.exceptions.filtersets import ExceptionQueueFilterSet
from returns_hub.screens.exceptions.forms import BulkActionForm
from returns_hub.screens.exceptions.kinds import words
from returns_hub.screens.exceptions.links import return_url
from returns_hub.screens.exceptions.tables import BULK_FORM_ID, TEAM_LABELS, ExceptionTable, age
from returns_hub.screens.lists import keyset_page, render_list

VIEW = "returns_hub.view_exceptioncase"
ACT = "returns_hub.resolve_exception"  # resolve, ignore, retry, assign: as the API
APPROVE = "returns_hub.approve_value"
# What people did to a case, as the return's timeline records it.
CASE_TIMELINE_KINDS = (
    "exception_assigned",
    "exception_resolved",
    "exception_ignored",
    "retried",
    "value_approved",
    "settlement_waived",
)

may_view = permission_required(VIEW, raise_exception=True)


def cases():
    # The return and its connection (the fix link names the platform, the row shows the
    # AssociatedRef), the case's own connection, and the assignee: one query a page.
    return ExceptionCase.objects.select_related(
        "return_ref__connection", "connection", "assignee", "resolved_by"
    )


@require_GET
@may_view
def index(request):
    filterset = ExceptionQueueFilterSet(request.GET, queryset=cases(), request=request)
    selectable = request.user.has_perm(ACT)
    common = {
        "title": "Exceptions",
        "intro": "What holds a return, oldest first. Open a case to see its history and act on "
        "it; select cases to act on several at once.",
        "template": "returns_hub/exceptions/queue.html",
        "extra": {
            "bulk": BulkActionForm(),
            "bulk_form_id": BULK_FORM_ID,
            "selectable": selectable,
        },
    }
    if not filterset.is_valid():
        table = ExceptionTable([], fix_links={}, selectable=selectable)
        return render_list(
            request, filterset=filterset, table=table, next_after=None, status=400, **common
        )
    page, next_after = keyset_page(filterset.qs, "id", request.GET.get("after"))
    table = ExceptionTable(page, fix_links=fix_links(page), selectable=selectable)
    return render_list(request, filterset=filterset, table=table, next_after=next_after, **common)


def _history(case: ExceptionCase):
    """What people did to this case, from its return's timeline (newest last)."""
    if case.return_ref_id is None:
        return []
    entries = case.return_ref.timeline.filter(cause=Cause.USER, kind__in=CASE_TIMELINE_KINDS)
    label = case.get_kind_display()
    kept = []
    for entry in entries.select_related("actor").order_by("at", "id"):
        about_kind = entry.message.startswith(f"{label}:") or entry.message.startswith(
            f"{label} ignored"
        )
        about_value = entry.kind == "value_approved" and case.kind == ExceptionKind.VALUE_MISMATCH
        about_settlement = (
            entry.kind == "settlement_waived" and case.kind == ExceptionKind.SETTLEMENT_MISSING
        )
        if about_kind or about_value or about_settlement:
            kept.append(entry)
    return kept


@require_GET
@may_view
def case_detail(request, pk: int):
    case = get_object_or_404(cases(), pk=pk)
    can_act = case.status == ExceptionStatus.OPEN and (
        request.user.has_perm(ACT) and owns_exception(request.user, case)
    )
    earlier = (
        ExceptionCase.objects.filter(cause_key=case.cause_key)
        .exclude(pk=case.pk)
        .select_related("resolved_by")
        .order_by("-id")[:20]
    )
    postings = (
        case.return_ref.postings.select_related("channel").order_by("id")
        if case.return_ref_id
        else []
    )
    context = {
        "case": case,
        "words": words(case.kind),
        "owner_label": TEAM_LABELS.get(case.owner, case.owner),
        "age": age(case),
        "fix": fix_link(case),
        "return_url": return_url(case.return_ref_id) if case.return_ref_id else "",
        "details": sorted((case.details or {}).items()),
        "history": _history(case),
        "earlier": earlier,
        "postings": postings,
        "can_act": can_act,
        "can_approve": (
            can_act
            and case.kind == ExceptionKind.VALUE_MISMATCH
            and case.return_ref_id is not None
            and request.user.has_perm(APPROVE)
        ),
        "is_open": case.status == ExceptionStatus.OPEN,
        "assigned_to_me": case.assignee_id == request.user.pk,
    }
    return render(request, "returns_hub/exceptions/case.html", context)
