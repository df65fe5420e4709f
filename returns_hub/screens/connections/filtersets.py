"""The connections list's filters: the API's, with a yes/no menu for "enabled"."""

import django_filters as filters
from django import forms

from returns_hub.filtersets import PlatformConnectionFilterSet


class ConnectionListFilterSet(PlatformConnectionFilterSet):
    # A menu rather than the API's true/false text box; the values are the same.
    enabled = filters.BooleanFilter(
        widget=forms.Select(choices=[("", "Any"), ("true", "Enabled"), ("false", "Disabled")])
    )
