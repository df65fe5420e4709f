"""Saved filters (as NetBox has them): a list page's query string kept under a name.

Every list page (``templates/screens/list.html``) carries a "Save this filter" form and
loads its menu of saved filters (the user's own and the shared ones) with htmx, so the
list's own queries stay as they are. Saving under a name already used replaces that
filter; only its owner may delete one (403 to anyone else, superusers included).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from returns_hub.models import SavedFilter

# The cursor is a position in one reading of the list, not part of a filter.
NOT_SAVED = ("after",)


class SaveFilterForm(forms.ModelForm):
    class Meta:
        model = SavedFilter
        fields = ["screen", "name", "query", "shared"]

    def clean_screen(self):
        screen = self.cleaned_data["screen"]
        try:
            reverse(screen)
        except NoReverseMatch as error:
            raise forms.ValidationError("not a list page of the hub") from error
        return screen

    def clean_query(self):
        query = self.cleaned_data["query"].lstrip("?")
        kept = [part for part in query.split("&") if part.split("=", 1)[0] not in NOT_SAVED]
        return "&".join(part for part in kept if part)


def visible_to(user, screen: str):
    """The filters offered to ``user`` on ``screen``: their own, then the shared ones."""
    return (
        SavedFilter.objects.filter(screen=screen)
        .filter(Q(user=user) | Q(shared=True))
        .select_related("user")
        .order_by("name", "id")
    )


def _back(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_GET
@permission_required("returns_hub.view_savedfilter", raise_exception=True)
def menu(request):
    """The saved-filter menu of one list page (an htmx fragment)."""
    screen = request.GET.get("screen", "")
    try:
        path = reverse(screen)
    except NoReverseMatch:
        return HttpResponseBadRequest("screen: not a list page of the hub")
    context = {
        "saved": list(visible_to(request.user, screen)),
        "path": path,
        "next": request.GET.get("next", path),
    }
    return render(request, "returns_hub/dashboard/saved_filters_menu.html", context)


@require_POST
@permission_required("returns_hub.add_savedfilter", raise_exception=True)
def save(request):
    """Save (or replace, by name) the page's current filter for the user."""
    existing = SavedFilter.objects.filter(
        user=request.user, screen=request.POST.get("screen", ""), name=request.POST.get("name", "")
    ).first()
    form = SaveFilterForm(request.POST, instance=existing)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"The filter was not saved ({errors}).")
        return redirect(_back(request, reverse("home")))
    saved = form.save(commit=False)
    saved.user = request.user
    saved.save()
    messages.success(request, f"Filter “{saved.name}” saved.")
    return redirect(_back(request, f"{reverse(saved.screen)}?{saved.query}".rstrip("?")))


@require_POST
@permission_required("returns_hub.delete_savedfilter", raise_exception=True)
def delete(request, pk: int):
    saved = get_object_or_404(SavedFilter, pk=pk)
    if saved.user_id != request.user.pk:
        raise PermissionDenied("Only the person who saved a filter may delete it.")
    saved.delete()
    messages.success(request, f"Filter “{saved.name}” deleted.")
    return redirect(_back(request, reverse(saved.screen)))
