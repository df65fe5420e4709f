"""/exceptions/ actions: assign, resolve, ignore, retry, approve a value, and the same on
several cases at once.

Each is a POST with its CSRF token, checks the permission the API checks for the same
action (``resolve_exception``; ``approve_value`` for finance's approval) and that the
user's team owns the case (``owns_exception``: a team acts on its own cases, superusers
on all), then calls the service in ``returns_hub.services.actions``. A service that
refuses says why in a message on the next page, never a 500. The answer is a redirect
back (post, redirect, get), so a reload never acts twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from returns_hub.api.permissions import owns_exception
from returns_hub.choices import ExceptionKind, ExceptionStatus
from returns_hub.models import ExceptionCase
from returns_hub.screens.exceptions.forms import (
    BulkAction,
    BulkActionForm,
    NoteForm,
    RequiredNoteForm,
)
from returns_hub.screens.exceptions.views import ACT, APPROVE
from returns_hub.services import actions
from returns_hub.services.actions import ActionError

may_act = permission_required(ACT, raise_exception=True)
may_approve = permission_required(APPROVE, raise_exception=True)


def _back(request, fallback: str) -> str:
    """The form's ``next`` when it stays on this site, else ``fallback``."""
    wanted = request.POST.get("next")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


def _owned_case(request, pk: int) -> ExceptionCase:
    case = get_object_or_404(ExceptionCase.objects.select_related("return_ref"), pk=pk)
    if not owns_exception(request.user, case):
        raise PermissionDenied(f"This exception is owned by the {case.owner} team.")
    return case


def _act(request, pk: int, do: Callable[[ExceptionCase], str], form_class=NoteForm):
    """Run ``do`` on the user's own case; its answer, or the refusal, as a message."""
    case = _owned_case(request, pk)
    here = reverse("exceptions:case", args=[case.pk])
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"Case #{case.pk}: {' '.join(errors)}")
        return redirect(_back(request, here))
    try:
        done = do(case, form.cleaned_data.get("note", ""))
    except ActionError as error:
        messages.error(request, f"Case #{case.pk}: not done: {error}")
    else:
        messages.success(request, f"Case #{case.pk}: {done}")
    return redirect(_back(request, here))


def _status_words(case: ExceptionCase) -> str:
    return "still open: the cause is still there" if case.status == "open" else case.status


@require_POST
@may_act
def assign(request, pk: int):
    def do(case, note):
        actions.assign_exception(case, user=request.user, assignee=request.user)
        return "assigned to you."

    return _act(request, pk, do)


@require_POST
@may_act
def unassign(request, pk: int):
    def do(case, note):
        actions.assign_exception(case, user=request.user, assignee=None)
        return "assigned to nobody."

    return _act(request, pk, do)


@require_POST
@may_act
def resolve(request, pk: int):
    def do(case, note):
        actions.resolve_exception(case, user=request.user, note=note)
        return "resolved."

    return _act(request, pk, do)


@require_POST
@may_act
def ignore(request, pk: int):
    def do(case, note):
        actions.ignore_exception(case, user=request.user, note=note)
        return "ignored: handled outside the hub."

    return _act(request, pk, do, RequiredNoteForm)


@require_POST
@may_act
def retry(request, pk: int):
    def do(case, note):
        case = actions.retry_exception(case, user=request.user)
        return f"retried; {_status_words(case)}."

    return _act(request, pk, do)


@require_POST
@may_approve
def approve_value(request, pk: int):
    def do(case, note):
        if case.kind != ExceptionKind.VALUE_MISMATCH or case.return_ref_id is None:
            raise ActionError("only a value mismatch on a return has a value to approve")
        ret = actions.approve_value(case.return_ref, user=request.user, note=note)
        posting = ret.postings.order_by("-id").first()
        moved = (
            f" {posting.associated_ref} is now {posting.get_state_display()}." if posting else ""
        )
        return f"the settled value is approved.{moved}"

    return _act(request, pk, do)


# --- several cases at once ----------------------------------------------------------------


@dataclass
class BulkOutcome:
    done: list[ExceptionCase] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (which case, why)


def _label(case: ExceptionCase) -> str:
    where = f", {case.return_ref}" if case.return_ref_id else ""
    return f"#{case.pk} ({case.get_kind_display()}{where})"


def _one(request, case: ExceptionCase, action: str, note: str) -> ExceptionCase:
    if not owns_exception(request.user, case):
        raise PermissionDenied(f"owned by the {case.owner} team")
    if action == BulkAction.ASSIGN:
        return actions.assign_exception(case, user=request.user, assignee=request.user)
    if action == BulkAction.RETRY:
        return actions.retry_exception(case, user=request.user)
    return actions.ignore_exception(case, user=request.user, note=note)


def run_bulk(request, ids: list[int], action: str, note: str) -> BulkOutcome:
    """Each case through its service, one by one (each its own transaction): one refusal
    stops nothing else."""
    outcome = BulkOutcome()
    found = ExceptionCase.objects.select_related("return_ref").in_bulk(ids)
    for pk in ids:
        case = found.get(pk)
        if case is None:
            outcome.failed.append((f"#{pk}", "no such case"))
            continue
        try:
            outcome.done.append(_one(request, case, action, note))
        except (ActionError, PermissionDenied) as error:
            outcome.failed.append((_label(case), str(error)))
    return outcome


DONE_WORDS = {
    BulkAction.ASSIGN: "assigned to you",
    BulkAction.RETRY: "retried",
    BulkAction.IGNORE: "ignored",
}


@require_POST
@may_act
def bulk(request):
    back = _back(request, reverse("exceptions:index"))
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        problems = [error for errors in form.errors.values() for error in errors]
        messages.error(request, f"Nothing done: {' '.join(problems)}")
        return redirect(back)
    action, ids = form.cleaned_data["action"], form.cleaned_data["cases"]
    outcome = run_bulk(request, ids, action, form.cleaned_data["note"])
    summary = f"{len(outcome.done)} of {len(ids)} cases {DONE_WORDS[action]}."
    if action == BulkAction.RETRY and outcome.done:
        still = sum(case.status == ExceptionStatus.OPEN for case in outcome.done)
        summary += f" {len(outcome.done) - still} cleared, {still} still open."
    (messages.success if not outcome.failed else messages.warning)(request, summary)
    for which, why in outcome.failed:
        messages.error(request, f"{which}: not done: {why}")
    return redirect(back)
