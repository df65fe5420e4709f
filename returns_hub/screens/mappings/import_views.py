"""Importing a mapping table from CSV or XLSX: upload → preview → confirm.

The upload is kept (``uploads``) and previewed by a dry run that writes nothing; the
preview lists every row as new, changed, unchanged or refused (row number and why).
"Confirm" imports exactly the previewed bytes in one transaction: if any row is refused
then, nothing is written and the refusals are shown again.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from returns_hub.screens.mappings import previews, uploads
from returns_hub.screens.mappings.access import needs
from returns_hub.screens.mappings.catalogue import Mapping
from returns_hub.screens.mappings.forms import ImportUploadForm


def _columns(mapping: Mapping) -> list[str]:
    resource = mapping.resource()
    return [field.column_name for field in resource.get_import_fields()]


@require_http_methods(["GET", "POST"])
@needs("import")
def upload(request, mapping: Mapping):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kept = uploads.keep(request, mapping.slug, form.cleaned_data["file"])
        return redirect("mappings:import-preview", mapping.slug, kept.token)
    return render(
        request,
        "returns_hub/mappings/import.html",
        {"mapping": mapping, "form": form, "columns": _columns(mapping)},
        status=400 if form.errors else 200,
    )


def _kept(request, mapping: Mapping, token: str) -> uploads.KeptUpload:
    kept = uploads.find(request, mapping.slug, token)
    if kept is None:
        raise Http404("This import is not waiting: upload the file again.")
    return kept


def _preview_page(request, mapping, kept, preview, *, status=200, applied_failed=False):
    return render(
        request,
        "returns_hub/mappings/preview.html",
        {
            "mapping": mapping,
            "kept": kept,
            "preview": preview,
            "applied_failed": applied_failed,
            "shown_limit": previews.ROWS_SHOWN,
        },
        status=status,
    )


def _dataset_or_page(request, mapping, kept):
    """The kept file's rows, or the page that says why there are none."""
    data = kept.read()
    if data is None:
        uploads.discard(request, kept)
        raise Http404("The uploaded file is no longer kept: upload it again.")
    try:
        return previews.read_dataset(data, kept.import_format), None
    except previews.FileUnreadable as error:
        preview = previews.ImportPreview(problem=str(error))
        return None, _preview_page(request, mapping, kept, preview, status=400)


@require_http_methods(["GET"])
@needs("import")
def preview(request, mapping: Mapping, token: str):
    """A dry run: every row's outcome, nothing written."""
    kept = _kept(request, mapping, token)
    dataset, page = _dataset_or_page(request, mapping, kept)
    if page is not None:
        return page
    result = previews.run(mapping, dataset, dry_run=True)
    return _preview_page(request, mapping, kept, result, status=200)


@require_POST
@needs("import")
def confirm(request, mapping: Mapping, token: str):
    """Imports the previewed file: every row or none."""
    kept = _kept(request, mapping, token)
    dataset, page = _dataset_or_page(request, mapping, kept)
    if page is not None:
        return page
    with transaction.atomic():
        result = previews.run(mapping, dataset, dry_run=False)
    if result.errors:
        # The resource rolled the whole file back: nothing was written.
        return _preview_page(request, mapping, kept, result, status=400, applied_failed=True)
    uploads.discard(request, kept)
    counts = result.counts
    messages.success(
        request,
        f"Imported {kept.name}: {counts.get('new', 0)} new, {counts.get('changed', 0)} "
        f"changed, {counts.get('unchanged', 0)} unchanged. Returns held for a missing row "
        "are being evaluated again.",
    )
    return redirect(reverse("mappings:list", args=[mapping.slug]))


@require_POST
@needs("import")
def cancel(request, mapping: Mapping, token: str):
    kept = uploads.find(request, mapping.slug, token)
    if kept is not None:
        uploads.discard(request, kept)
    messages.info(request, "Import cancelled: nothing was written.")
    return redirect(reverse("mappings:list", args=[mapping.slug]))
