"""/finance/ screens that change something: upload credit notes, match by hand, accept
differences, edit the rules, ask for a month-end pack.

Each view checks its own permission (the role matrix in ``returns_hub/roles.py``); the
login middleware has already sent anyone not logged in to the login page. Every change
is a POST with its CSRF token, and every change goes through the service that owns it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_q.tasks import async_task

from reconciliation import forms, importers
from reconciliation.choices import ImportStatus, PackStatus
from reconciliation.models import (
    Acceptance,
    CreditNote,
    CreditNoteImport,
    MatchMethod,
    MonthEndPack,
    ReconciliationRule,
)
from reconciliation.services import acceptances, matching, month_end_pack
from returns_hub.choices import PostingKind
from returns_hub.models import Posting

CANDIDATES_PER_PAGE = 50
UNMATCHED_SHOWN = 100  # the new notes left unmatched, listed after an import
REFUSALS_SHOWN = 100
RECENT_IMPORTS = 10
RECENT_PACKS = 20
HISTORY_ON_LIST = 3  # changes shown per rule on the list; its edit page has them all
HISTORY_ON_RULE = 100
PREVIEW_SESSION_KEY = "credit-note-preview-{}"
SEARCH_FIELDS = {"q", "amount", "within", "before"}

UPLOAD = "reconciliation.add_creditnote"
MATCH = "reconciliation.change_creditnote"
ACCEPT = "reconciliation.add_acceptance"
REOPEN = "reconciliation.delete_acceptance"
VIEW_RULES = "reconciliation.view_reconciliationrule"
ADD_RULE = "reconciliation.add_reconciliationrule"
CHANGE_RULE = "reconciliation.change_reconciliationrule"
VIEW_PACKS = "reconciliation.view_monthendpack"
ADD_PACK = "reconciliation.add_monthendpack"


def _needs(perm: str):
    """The permission, or 403 (never a login loop for someone logged in without it)."""
    return permission_required(perm, raise_exception=True)


def _back(request, fallback: str | None = None) -> str:
    """Where to go after a POST: its ``next`` if it stays on this site, else ``fallback``,
    else the reconciliation's front page."""
    wanted = request.POST.get("next") or request.GET.get("next")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback or _finance_home()


def _finance_home() -> str:
    return reverse("finance:index")


# --- upload the credit note export, with a preview ------------------------------------


@require_http_methods(["GET", "POST"])
@_needs(UPLOAD)
def upload_credit_notes(request):
    form = forms.CreditNoteUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            preview = importers.preview(
                upload,
                file_name=upload.name,
                fmt=form.cleaned_data["format"] or None,
                user=request.user,
            )
        except importers.FileRefused as error:
            form.add_error("file", f"Refused, nothing imported: {error}")
        else:
            _remember_preview(request, preview)
            return redirect("finance:credit-note-import", preview.import_id)
        finally:
            upload.close()
    recent = CreditNoteImport.objects.select_related("uploaded_by").order_by("-id")[:RECENT_IMPORTS]
    return render(
        request,
        "reconciliation/actions/upload.html",
        {"form": form, "recent": recent},
        status=400 if form.errors else 200,
    )


@require_GET
@_needs(UPLOAD)
def credit_note_import(request, pk: int):
    """A previewed file (what would happen, with Import and Cancel), or what an applied or
    refused one came to."""
    record = get_object_or_404(CreditNoteImport.objects.select_related("uploaded_by"), pk=pk)
    context = {"record": record, "preview": None, "unmatched": []}
    if record.status == ImportStatus.PREVIEWED:
        context["preview"] = _kept_preview(request, record)
        refusals = context["preview"]["refused_rows"] if context["preview"] else record.refusals
    else:
        refusals = record.refusals
        context["unmatched"] = (
            CreditNote.objects.filter(source=record, posting__isnull=True)
            .only("code", "associated_ref", "issued_on", "currency", "gross", "unmatched_reason")
            .order_by("id")[:UNMATCHED_SHOWN]
        )
    context["refusals"] = list(refusals or [])[:REFUSALS_SHOWN]
    counted = context["preview"]["refused"] if context["preview"] else record.refused
    context["refused_count"] = max(counted, len(context["refusals"]))
    return render(request, "reconciliation/actions/import.html", context)


def _remember_preview(request, preview: importers.ImportPreview) -> None:
    """Kept in the session for the preview page (a redirect away), as JSON text, its
    refusals cut to those shown (the count stays exact)."""
    shown = preview.as_dict()
    shown["refused_rows"] = shown["refused_rows"][:REFUSALS_SHOWN]
    request.session[PREVIEW_SESSION_KEY.format(preview.import_id)] = json.dumps(
        shown, cls=DjangoJSONEncoder
    )


def _kept_preview(request, record: CreditNoteImport) -> dict | None:
    """The preview made at upload; read again from the kept file for another session."""
    kept = request.session.get(PREVIEW_SESSION_KEY.format(record.pk))
    if not kept:
        try:
            preview = importers.preview_of(record.pk, user=request.user)
        except importers.FileRefused:
            return None
        _remember_preview(request, preview)
        kept = request.session[PREVIEW_SESSION_KEY.format(record.pk)]
    shown = json.loads(kept)
    for note in shown.get("sample", []):
        method = note.get("match_method")
        note["method"] = MatchMethod(method).label if method in MatchMethod.values else ""
    return shown


@require_POST
@_needs(UPLOAD)
def apply_credit_note_import(request, pk: int):
    try:
        result = importers.apply_preview(pk, user=request.user)
    except importers.ImportNotFound as error:
        raise Http404(str(error)) from error
    except importers.FileRefused as error:
        messages.error(request, f"Refused, nothing imported: {error}")
        return redirect("finance:credit-note-import", pk)
    request.session.pop(PREVIEW_SESSION_KEY.format(pk), None)
    done = result.record
    if result.already_applied:
        messages.info(request, f"{done.file_name} was imported before: nothing new was written.")
    else:
        messages.success(
            request,
            f"Imported {done.file_name}: {done.new} new, {done.unchanged} unchanged, "
            f"{done.matched} matched, {done.unmatched} unmatched, {done.refused} refused.",
        )
    return redirect("finance:credit-note-import", done.pk)


@require_POST
@_needs(UPLOAD)
def cancel_credit_note_import(request, pk: int):
    """Forget a preview: its kept file and its record go; nothing else was written."""
    with transaction.atomic():
        record = get_object_or_404(CreditNoteImport.objects.select_for_update(), pk=pk)
        if record.status != ImportStatus.PREVIEWED:
            messages.error(request, f"{record.file_name} was already {record.status}.")
            return redirect("finance:credit-note-import", record.pk)
        if record.file:
            record.file.delete(save=False)
        record.delete()
    request.session.pop(PREVIEW_SESSION_KEY.format(pk), None)
    messages.info(request, "Cancelled: nothing was imported.")
    return redirect("finance:upload-credit-notes")


# --- match a credit note by hand ----------------------------------------------------


def _default_band(gross: Decimal) -> Decimal:
    """How far from the note's gross a candidate's expected credit may be, to start with:
    a tenth of it, at least 1.00."""
    return max(abs(gross) / 10, Decimal("1.00")).quantize(Decimal("0.01"))


@dataclass
class Candidates:
    postings: list[Posting]
    older: int | None  # the keyset for the next page (postings with a smaller id)


def _candidates(note: CreditNote, search: dict) -> Candidates:
    """Return postings this note could be for: same currency, offered to Khaos, not matched;
    newest first, CANDIDATES_PER_PAGE at a time (keyset on id)."""
    found = Posting.objects.filter(
        kind=PostingKind.RETURN,
        state__in=matching.MATCHABLE,
        currency=note.currency,
        credit_note__isnull=True,
    ).select_related("return_ref__connection")
    text = (search.get("q") or "").strip()
    if text:
        found = found.filter(Q(associated_ref=text) | Q(return_ref__order_ref=text.lstrip("#")))
    amount = search.get("amount")
    if amount is not None:
        band = search.get("within") or Decimal("0.00")
        found = found.filter(expected_credit__gte=amount - band, expected_credit__lte=amount + band)
    if search.get("before"):
        found = found.filter(pk__lt=search["before"])
    page = list(found.order_by("-pk")[: CANDIDATES_PER_PAGE + 1])
    older = page[CANDIDATES_PER_PAGE - 1].pk if len(page) > CANDIDATES_PER_PAGE else None
    return Candidates(page[:CANDIDATES_PER_PAGE], older)


@require_http_methods(["GET", "POST"])
@_needs(MATCH)
def match_credit_note(request, code: str):
    note = get_object_or_404(
        CreditNote.objects.select_related("posting__return_ref", "matched_by_user"), code=code
    )
    if request.method == "POST":
        return _match(request, note)
    if SEARCH_FIELDS & set(request.GET):
        search_form = forms.CandidateSearchForm(request.GET)
    else:  # to start with: postings expecting about the note's gross
        search_form = forms.CandidateSearchForm(
            {"amount": note.gross, "within": _default_band(note.gross)}
        )
    candidates = None
    if note.posting_id is None and search_form.is_valid():
        candidates = _candidates(note, search_form.cleaned_data)
        for posting in candidates.postings:
            posting.note_less_expected = note.gross - posting.expected_credit
    older_query = None
    if candidates and candidates.older:
        shown = {k: v for k, v in search_form.cleaned_data.items() if v not in (None, "")}
        if request.GET.get("next"):
            shown["next"] = request.GET["next"]
        older_query = urlencode({**shown, "before": candidates.older})
    return render(
        request,
        "reconciliation/actions/match.html",
        {
            "note": note,
            "search_form": search_form,
            "candidates": candidates,
            "older_query": older_query,
            "per_page": CANDIDATES_PER_PAGE,
        },
    )


def _match(request, note: CreditNote):
    form = forms.MatchForm(request.POST)
    here = reverse("finance:match-credit-note", args=[note.code])
    if not form.is_valid():
        messages.error(request, "Choose a return posting to match.")
        return redirect(here)
    posting = Posting.objects.filter(pk=form.cleaned_data["posting"]).first()
    if posting is None:
        messages.error(request, "That return posting does not exist.")
        return redirect(here)
    try:
        confirmed = matching.match_by_hand(note, posting, request.user)
    except matching.MatchRefused as error:
        messages.error(request, f"Not matched: {error}")
        return redirect(here)
    messages.success(
        request,
        f"Credit note {note.code} matched by hand to {posting.associated_ref}"
        + ("; the posting is confirmed." if confirmed else "."),
    )
    return redirect(_back(request, here))


# --- accept (write off) and reopen a difference ---------------------------------------


@require_POST
@_needs(ACCEPT)
def accept_difference(request):
    form = forms.AcceptForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Not accepted: {problems}")
        return redirect(_back(request))
    key = form.cleaned_data["key"]
    try:
        acceptances.accept(key, by=request.user, note=form.cleaned_data["note"])
    except acceptances.NotAcceptable as error:
        messages.error(request, f"Not accepted: {error}")
    else:
        messages.success(request, f"Difference {key} accepted.")
    return redirect(_back(request))


@require_POST
@_needs(REOPEN)
def reopen_difference(request):
    form = forms.ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not reopened: no difference named.")
        return redirect(_back(request))
    key = form.cleaned_data["key"]
    cause, object_id = key.split(":")
    acceptance = Acceptance.objects.filter(cause=cause, object_id=int(object_id)).first()
    if acceptance is None:
        messages.error(request, f"Difference {key} is not accepted: nothing to reopen.")
        return redirect(_back(request))
    try:
        reopened = acceptances.reopen(acceptance, by=request.user)
    except acceptances.NotAcceptable as error:
        messages.error(request, f"Not reopened: {error}")
    else:
        if reopened:
            messages.success(request, f"Difference {key} reopened: it is open again.")
        else:
            messages.info(request, f"Difference {key} was already open.")
    return redirect(_back(request))


# --- rules ----------------------------------------------------------------------------


@dataclass
class Change:
    when: object
    who: str
    kind: str  # created, changed, deleted
    what: str


HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
RULE_FIELDS = forms.ReconciliationRuleForm.Meta.fields


def _changes(versions: list) -> list[Change]:
    """Newest first; each version set against the one before it (when that was read)."""
    ordered = sorted(versions, key=lambda v: (v.history_date, v.history_id))
    changes = []
    for before, after in zip([None, *ordered], ordered, strict=False):
        if before is None or after.history_type != "~":
            what = "" if after.history_type != "+" else _describe(after)
        else:
            what = "; ".join(
                f"{name} {_shown(getattr(before, name))} → {_shown(getattr(after, name))}"
                for name in RULE_FIELDS
                if getattr(before, name) != getattr(after, name)
            )
        who = after.history_user.get_username() if after.history_user else "the system"
        changes.append(
            Change(after.history_date, who, HISTORY_TYPES.get(after.history_type, "?"), what)
        )
    return changes[::-1]


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def _describe(version) -> str:
    return ", ".join(f"{name} {_shown(getattr(version, name))}" for name in RULE_FIELDS)


def _history(rule_ids: list[int], per_rule: int) -> dict[int, list[Change]]:
    """Each rule's latest changes in one query (one more version each, to diff against)."""
    versions = (
        ReconciliationRule.history.filter(id__in=rule_ids)
        .select_related("history_user")
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("id")],
                order_by=[F("history_date").desc(), F("history_id").desc()],
            )
        )
        .filter(newest__lte=per_rule + 1)
    )
    by_rule: dict[int, list] = {}
    for version in versions:
        by_rule.setdefault(version.id, []).append(version)
    history = {}
    for rule_id, found in by_rule.items():
        changes = _changes(found)
        if len(found) > per_rule:
            changes = changes[:per_rule]  # the oldest read was only there to diff against
        history[rule_id] = changes
    return history


@require_GET
@_needs(VIEW_RULES)
def rules(request):
    found = list(ReconciliationRule.objects.select_related("updated_by").order_by("sequence", "id"))
    history = _history([rule.pk for rule in found], HISTORY_ON_LIST)
    for position, rule in enumerate(found, start=1):
        rule.position = position
        rule.changes = history.get(rule.pk, [])
    return render(request, "reconciliation/actions/rules.html", {"rules": found})


@require_http_methods(["GET", "POST"])
@_needs(ADD_RULE)
def rule_add(request):
    return _rule_form(request, ReconciliationRule())


@require_http_methods(["GET", "POST"])
@_needs(CHANGE_RULE)
def rule_edit(request, pk: int):
    return _rule_form(request, get_object_or_404(ReconciliationRule, pk=pk))


def _rule_form(request, rule: ReconciliationRule):
    adding = rule.pk is None
    if adding and request.method == "GET":
        last = ReconciliationRule.objects.order_by("-sequence").values_list("sequence", flat=True)
        rule.sequence = (last.first() or 0) + 10
    form = forms.ReconciliationRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        rule.updated_by = request.user
        rule.save()
        messages.success(request, f"Rule “{rule.name}” {'added' if adding else 'saved'}.")
        return redirect("finance:rules")
    changes = [] if adding else _history([rule.pk], HISTORY_ON_RULE).get(rule.pk, [])
    return render(
        request,
        "reconciliation/actions/rule_form.html",
        {"form": form, "rule": rule, "adding": adding, "changes": changes},
        status=400 if form.errors else 200,
    )


@require_POST
@_needs(CHANGE_RULE)
def rule_active(request, pk: int):
    """Deactivate a rule (kept, with its history), or put it back in use."""
    rule = get_object_or_404(ReconciliationRule, pk=pk)
    rule.active = request.POST.get("active") == "1"
    rule.updated_by = request.user
    rule.save(update_fields=["active", "updated_by", "updated_at"])
    messages.success(
        request, f"Rule “{rule.name}” {'is in use again' if rule.active else 'deactivated'}."
    )
    return redirect("finance:rules")


@require_POST
@_needs(CHANGE_RULE)
def rule_move(request, pk: int):
    """Move a rule one place earlier or later; the rules are numbered again 10, 20, 30…
    so that equal sequences cannot hide the move. Only the rules whose number changes are
    saved (each change in its history)."""
    form = forms.RuleMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether to move the rule up or down.")
        return redirect("finance:rules")
    with transaction.atomic():
        ordered = list(ReconciliationRule.objects.select_for_update().order_by("sequence", "id"))
        index = next((i for i, rule in enumerate(ordered) if rule.pk == pk), None)
        if index is None:
            raise Http404("No such rule.")
        target = index - 1 if form.cleaned_data["direction"] == "up" else index + 1
        if 0 <= target < len(ordered):
            ordered[index], ordered[target] = ordered[target], ordered[index]
        for position, rule in enumerate(ordered, start=1):
            if rule.sequence != position * 10:
                rule.sequence = position * 10
                rule.updated_by = request.user
                rule.save(update_fields=["sequence", "updated_by", "updated_at"])
    return redirect("finance:rules")


@require_POST
@_needs(CHANGE_RULE)
def apply_rules_now(request):
    async_task("reconciliation.tasks.apply_rules", group="reconciliation", task_name="apply_rules")
    messages.info(
        request,
        "The rules are being applied in the background: differences they accept "
        "show as accepted in a minute or so.",
    )
    return redirect("finance:rules")


# --- month-end pack -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_needs(VIEW_PACKS)
def month_end_packs(request):
    # The period screen links here with its month (?period=YYYY-MM) to fill the form in.
    form = forms.MonthEndPackForm(
        request.POST or None, initial={"period": request.GET.get("period", "")[:7]}
    )
    if request.method == "POST":
        if not request.user.has_perm(ADD_PACK):
            raise PermissionDenied
        if form.is_valid():
            pack = month_end_pack.request(form.cleaned_data["period"], by=request.user)
            messages.success(request, f"Month-end pack for {pack.period} asked for.")
            return redirect("finance:month-end-pack-status", pack.pk)
    packs = MonthEndPack.objects.select_related("requested_by").order_by("-id")[:RECENT_PACKS]
    return render(
        request,
        "reconciliation/actions/packs.html",
        {"form": form, "packs": packs},
        status=400 if form.errors else 200,
    )


@require_GET
@_needs(VIEW_PACKS)
def month_end_pack_status(request, pk: int):
    pack = get_object_or_404(MonthEndPack.objects.select_related("requested_by"), pk=pk)
    template = (
        "reconciliation/actions/pack_progress.html"
        if request.headers.get("HX-Request")
        else "reconciliation/actions/pack_status.html"
    )
    return render(request, template, {"pack": pack, "working": _working(pack)})


def _working(pack: MonthEndPack) -> bool:
    return pack.status in (PackStatus.QUEUED, PackStatus.RUNNING)


@require_GET
@_needs(VIEW_PACKS)
def month_end_pack_download(request, pk: int):
    pack = get_object_or_404(MonthEndPack, pk=pk)
    if pack.status != PackStatus.DONE or not pack.file:
        raise Http404("This pack has no file yet.")
    try:
        handle = pack.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The pack's file is missing.") from error
    return FileResponse(
        handle,
        as_attachment=True,
        filename=PurePath(pack.file.name).name,
        content_type="application/zip",
    )
