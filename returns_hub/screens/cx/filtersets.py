"""The CX lookup: one box for an order number, an email or a return's id, AssociatedRef or
platform return id, over the API's return filterset (platform and state narrow it)."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q

from returns_hub.filtersets import ReturnFilterSet
from returns_hub.models.mappings import normalise_email

MAX_RETURN_ID = 2**63 - 1


def lookup_condition(text: str) -> Q:
    """Each key CX may type, matched exactly on its own indexed column (an OR of index
    scans): order number (with or without #), email (as stored: trimmed, lower case),
    AssociatedRef (as typed, or with its platform prefix in capitals), platform return id,
    and the hub's return id."""
    text = text.strip()
    prefix, dash, rest = text.partition("-")
    refs = {text, text.upper(), f"{prefix.upper()}{dash}{rest}"}
    condition = (
        Q(order_ref=text.lstrip("#").strip())
        | Q(external_id=text)
        | Q(associated_ref__in=sorted(refs))
    )
    email = normalise_email(text)
    if "@" in email:
        condition |= Q(customer_email=email)
    if text.isdigit() and int(text) <= MAX_RETURN_ID:
        condition |= Q(pk=int(text))
    return condition


class ReturnLookupFilterSet(ReturnFilterSet):
    q = filters.CharFilter(
        label="Order number, email or return id",
        method="filter_q",
        max_length=254,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True}),
    )
    # The search form: the box, then the API's platform and state filters.
    SHOWN = ("q", "platform", "state")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: self.filters[name] for name in self.SHOWN}

    def filter_q(self, queryset, name, value):
        return queryset.filter(lookup_condition(value))

    def has_criteria(self) -> bool:
        """Something to look for: without it the page asks, and reads nothing."""
        data = self.form.cleaned_data
        return any(data.get(name) not in (None, "", []) for name in self.filters)
