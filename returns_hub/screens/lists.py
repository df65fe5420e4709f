"""What every list screen shares: keyset pages (never OFFSET), the query string, and one
template (filters applied in place by htmx, plain links without JavaScript)."""

from __future__ import annotations

import django_tables2 as tables
from django.core.exceptions import BadRequest, ValidationError
from django.db.models import Q
from django.shortcuts import render

PAGE_SIZE = 50
CURSOR_SEPARATOR = "~"


def query_with(request, **changes) -> str:
    """The request's query string with ``changes`` (None drops a parameter)."""
    query = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else ""


def _cursor_value(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def keyset_page(
    queryset, column: str, after: str | None, *, size: int = PAGE_SIZE, descending: bool = False
):
    """Rows in (``column``, id) order after the cursor ``<value>~<id>``, and the next page's
    cursor (None on the last page): a range on an indexed column, never an OFFSET.

    ``descending`` reads newest first (the index serves either direction).
    """
    before, after_id = ("lt", "lt") if descending else ("gt", "gt")
    if after:
        text, _, pk = after.rpartition(CURSOR_SEPARATOR)
        try:
            if not pk.isdigit() or len(pk) > 19:
                raise ValidationError("id")
            field = queryset.model._meta.get_field(column)
            value = field.to_python(text) if column != "pk" else int(text)
            if value is None:
                raise ValidationError("value")
        except (ValidationError, ValueError) as error:
            raise BadRequest("after: not a position in this list") from error
        bound = "lte" if descending else "gte"
        queryset = queryset.filter(**{f"{column}__{bound}": value}).filter(
            Q(**{f"{column}__{before}": value}) | Q(**{f"pk__{after_id}": int(pk)})
        )
    order = (f"-{column}", "-pk") if descending else (column, "pk")
    found = list(queryset.order_by(*order)[: size + 1])
    page = found[:size]
    next_after = None
    if len(found) > size:
        last = page[-1]
        next_after = f"{_cursor_value(getattr(last, column))}{CURSOR_SEPARATOR}{last.pk}"
    return page, next_after


def render_list(
    request,
    *,
    filterset,
    table,
    title: str,
    intro: str = "",
    next_after: str | None,
    status: int = 200,
    template: str = "screens/list.html",
    extra: dict | None = None,
):
    """A list page: its filter form, one page of its table and the link to the next."""
    tables.RequestConfig(request, paginate=False).configure(table)
    context = {
        "title": title,
        "intro": intro,
        "filter": filterset,
        "table": table,
        "page_size": PAGE_SIZE,
        "next_url": query_with(request, after=next_after) if next_after else "",
        "first_url": query_with(request, after=None) if request.GET.get("after") else "",
        **(extra or {}),
    }
    return render(request, template, context, status=status)
