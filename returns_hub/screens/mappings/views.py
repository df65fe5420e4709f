"""/mappings/: the index, each table's list (search, filters, keyset pages), its export
and each row's audit trail. Read only; adding, editing, deleting and importing live in
``edit_views`` and ``import_views``."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from import_export.formats import base_formats

from returns_hub.screens.lists import keyset_page, query_with, render_list
from returns_hub.screens.mappings import history
from returns_hub.screens.mappings.access import any_table, needs, visible_tables
from returns_hub.screens.mappings.catalogue import Mapping

EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", base_formats.CSV),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        base_formats.XLSX,
    ),
}
SEARCH_AS_YOU_TYPE = {
    "hx-trigger": "input changed delay:300ms, search",
    "hx-target": "#results",
    "hx-select": "#results",
    "hx-swap": "outerHTML",
    "hx-push-url": "true",
    "hx-include": "closest form",
}


@require_GET
@any_table
def index(request):
    tables = [
        {
            "mapping": found,
            "can_add": found.can(request.user, "add"),
            "can_import": found.can_import(request.user),
        }
        for found in visible_tables(request.user)
    ]
    return render(request, "returns_hub/mappings/index.html", {"tables": tables})


def filtered(request, mapping: Mapping):
    """The filterset over the table, its rows filtered (400 on a filter it cannot use)."""
    filterset = mapping.filterset(request.GET or None, queryset=mapping.rows(), request=request)
    filterset.form.fields["q"].widget.attrs.update(
        {"hx-get": request.path, "autofocus": True, **SEARCH_AS_YOU_TYPE}
    )
    return filterset


@require_GET
@needs("view")
def table_list(request, mapping: Mapping):
    filterset = filtered(request, mapping)
    if filterset.is_bound and not filterset.is_valid():
        rows, next_after, status = [], None, 400
    else:
        rows, next_after = keyset_page(filterset.qs, mapping.order_by, request.GET.get("after"))
        status = 200
    table = mapping.table(
        rows, table_slug=mapping.slug, can_change=mapping.can(request.user, "change")
    )
    return render_list(
        request,
        filterset=filterset,
        table=table,
        title=mapping.title,
        intro=mapping.about,
        next_after=next_after,
        status=status,
        template="returns_hub/mappings/list.html",
        extra={
            "mapping": mapping,
            "can_add": mapping.can(request.user, "add"),
            "can_import": mapping.can_import(request.user),
            "export_csv": reverse("mappings:export", args=[mapping.slug])
            + query_with(request, after=None, format="csv"),
            "export_xlsx": reverse("mappings:export", args=[mapping.slug])
            + query_with(request, after=None, format="xlsx"),
        },
    )


@require_GET
@needs("view")
def export(request, mapping: Mapping):
    """The filtered table (every page) as CSV or XLSX, in the columns an import reads."""
    chosen = request.GET.get("format", "csv")
    if chosen not in EXPORT_FORMATS:
        raise BadRequest("format: csv or xlsx")
    filterset = mapping.filterset(request.GET, queryset=mapping.rows(), request=request)
    if not filterset.is_valid():
        raise BadRequest(f"Check the filters: {filterset.form.errors.as_text()}")
    queryset = filterset.qs.order_by(mapping.order_by, "pk")
    dataset = mapping.resource().export(queryset=queryset)
    content_type, export_format = EXPORT_FORMATS[chosen]
    data = export_format().export_data(dataset)
    if isinstance(data, str):
        data = data.encode("utf-8-sig")  # Excel reads the byte order mark as UTF-8
    response = HttpResponse(data, content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="{mapping.export_name}-{stamp}.{chosen}"'
    )
    return response


@require_GET
@needs("view")
def row_history(request, mapping: Mapping, pk: int):
    """Every change to one row, deleted rows included (the history outlives the row)."""
    key = pk
    versions = history.trail(mapping, key)
    if not versions:
        raise Http404("No such row, and no history of one.")
    row = mapping.model.objects.filter(pk=key).first()
    return render(
        request,
        "returns_hub/mappings/history.html",
        {
            "mapping": mapping,
            "row": row,
            "key": key,
            "versions": versions,
            "can_change": row is not None and mapping.can(request.user, "change"),
        },
    )
