"""The mapping lists' filters: the API's filtersets plus one search box (``q``).

The search matches exactly or by prefix (``LIKE 'text%'``) on the table's keys, never
``%text%``, so PostgreSQL can answer it from a btree index over 100,000 rows.
"""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q

from returns_hub import filtersets as api
from returns_hub.models.mappings import normalise_email

SEARCH_MAX = 100  # longer than any key in these tables


class SearchFirst:
    """A search box (``q``) shown first, before the API's own filters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {"q": self.filters.pop("q"), **self.filters}


def search_filter(help_text: str) -> filters.CharFilter:
    return filters.CharFilter(
        method="search",
        label="Search",
        max_length=SEARCH_MAX,
        help_text=help_text,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class SkuMappingSearch(SearchFirst, api.SkuMappingFilterSet):
    q = search_filter("Platform SKU or Stock Code: the whole code or its start.")

    def search(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        wanted = {text, text.upper()}  # codes are usually upper case; people type either
        match = Q()
        for code in wanted:
            match |= Q(platform_sku__startswith=code) | Q(stock_code__startswith=code)
        return queryset.filter(match)


class ReasonMappingSearch(SearchFirst, api.ReasonMappingFilterSet):
    q = search_filter("The platform's reason: the whole text or its start.")

    def search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(reason__startswith=text) if text else queryset


class DispositionMappingSearch(SearchFirst, api.DispositionMappingFilterSet):
    q = search_filter("The platform's grade or outcome code: whole or its start.")

    def search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(disposition__startswith=text) if text else queryset


class CustomerMappingSearch(SearchFirst, api.CustomerMappingFilterSet):
    q = search_filter("Email or URN: the whole of it or its start.")

    def search(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(
            Q(email__startswith=normalise_email(text))
            | Q(urn__startswith=text)
            | Q(urn__startswith=text.upper())
        )


class KhaosReturnReasonSearch(SearchFirst, api.KhaosReturnReasonFilterSet):
    q = search_filter("The reason's ID, or the start of its name.")

    def search(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        if text.isdigit() and len(text) <= 10:
            return queryset.filter(pk=int(text))
        # A short table (Khaos has tens of reasons): no index needed for the name.
        return queryset.filter(name__istartswith=text)
