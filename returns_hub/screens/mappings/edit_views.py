"""Adding, editing and deleting one mapping row.

The API's mapping endpoints are plain model view sets (``TableViewSet``): a write is a
model save or delete in its own transaction. These forms are ModelForms over the same
models, so a save here is the same write, with the same validation, the same audit
trail (the request's user, by simple-history's middleware) and the same signals that
move held returns on once it commits.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.db import transaction
from django.db.models import ProtectedError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from returns_hub.screens.mappings.access import needs
from returns_hub.screens.mappings.catalogue import Mapping

# The fields a fix link may fill in on an existing customer row: never its email or URN.
CUSTOMER_PREFILLED = ("name", "line1", "town", "postcode", "country")


def _list_url(mapping: Mapping) -> str:
    return reverse("mappings:list", args=[mapping.slug])


def _prefill(request, mapping: Mapping, instance) -> dict:
    """Initial values from the query string, as the admin's add form takes them: an
    exception's fix link opens the form pre-filled. On an existing customer row only its
    empty address fields are filled in, to be checked and saved."""
    if request.method != "GET":
        return {}
    fields = mapping.form.Meta.fields
    if instance.pk is None or instance._state.adding:
        return {name: request.GET[name] for name in fields if request.GET.get(name)}
    if mapping.slug != "customers":
        return {}
    return {
        name: request.GET[name]
        for name in CUSTOMER_PREFILLED
        if request.GET.get(name) and not getattr(instance, name)
    }


def _form_page(request, mapping: Mapping, instance, *, adding: bool):
    form = mapping.form(
        request.POST or None, instance=instance, initial=_prefill(request, mapping, instance)
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            row = form.save()
        messages.success(request, f"{'Added' if adding else 'Saved'}: {row}.")
        return redirect(_list_url(mapping) + f"?q={_search_key(mapping, row)}")
    return render(
        request,
        "returns_hub/mappings/form.html",
        {
            "mapping": mapping,
            "form": form,
            "row": None if adding else instance,
            "adding": adding,
            "can_delete": not adding and mapping.can(request.user, "delete"),
        },
        status=400 if form.errors else 200,
    )


def _search_key(mapping: Mapping, row) -> str:
    """What to search for to see the row just saved in its list."""
    key = {
        "skus": "platform_sku",
        "reasons": "reason",
        "dispositions": "disposition",
        "customers": "email",
        "khaos-reasons": "id",
    }[mapping.slug]
    return quote(str(getattr(row, key)))


@require_http_methods(["GET", "POST"])
@needs("add")
def add(request, mapping: Mapping):
    return _form_page(request, mapping, mapping.model(), adding=True)


@require_http_methods(["GET", "POST"])
@needs("change")
def edit(request, mapping: Mapping, pk: int):
    row = get_object_or_404(mapping.rows(), pk=pk)
    return _form_page(request, mapping, row, adding=False)


@require_http_methods(["GET", "POST"])
@needs("delete")
def delete(request, mapping: Mapping, pk: int):
    row = get_object_or_404(mapping.rows(), pk=pk)
    error = ""
    if request.method == "POST":
        shown = str(row)
        try:
            with transaction.atomic():
                row.delete()
        except ProtectedError as refused:
            error = _in_use(refused)
        else:
            messages.success(request, f"Deleted: {shown}.")
            return redirect(_list_url(mapping))
    return render(
        request,
        "returns_hub/mappings/delete.html",
        {"mapping": mapping, "row": row, "error": error},
        status=409 if error else 200,
    )


def _in_use(refused: ProtectedError) -> str:
    """What still uses the row, as the API's 409 says it."""
    users: dict[str, int] = {}
    for used_by in refused.protected_objects:
        name = str(used_by._meta.verbose_name_plural)
        users[name] = users.get(name, 0) + 1
    named = ", ".join(f"{count} {name}" for name, count in sorted(users.items()))
    return f"It is still in use by {named}: change or delete those first, then delete it."
