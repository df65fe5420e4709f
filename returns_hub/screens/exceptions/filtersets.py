"""The queue's filters: the API's ``ExceptionFilterSet`` with the screen's own choices.

The API takes several owners, kinds and statuses at once; a person picks one of each from
a select, so those three become single choices here (same names and values, so a link
built for the API, ``?owner=finance&kind=value_mismatch``, opens the same queue). A
person who gives no owner sees their own team's cases, open ones, as Loop's "Needs
Review" tab does; "every team" and "any status" are explicit choices.
"""

from __future__ import annotations

from datetime import timedelta

import django_filters as filters
from django.db.models import Q
from django.utils import timezone

from returns_hub.choices import ExceptionKind, ExceptionStatus, Team
from returns_hub.filtersets import PLATFORMS, ExceptionFilterSet, IntegerFilter
from returns_hub.models import ExceptionCase, PlatformConnection

EVERY = "all"
FIELD_ORDER = [
    "owner",
    "kind",
    "status",
    "older_than",
    "platform",
    "assigned",
    "return_id",
    "associated_ref",
]
MAX_AGE_DAYS = 3650


class AssignedTo:
    ME = "me"
    NOBODY = "nobody"
    choices = [(ME, "Me"), (NOBODY, "Nobody")]


def default_owner(user) -> str:
    """The user's own team, or every team for a superuser or someone in none (or several)."""
    if user.is_superuser:
        return EVERY
    teams = [group.name for group in user.groups.all() if group.name in Team.values]
    return teams[0] if len(teams) == 1 else EVERY


class ExceptionQueueFilterSet(ExceptionFilterSet):
    owner = filters.ChoiceFilter(
        label="Owner",
        choices=[(EVERY, "Every team"), *Team.choices],
        empty_label=None,
        method="filter_every",
    )
    kind = filters.ChoiceFilter(choices=ExceptionKind.choices, empty_label="Every kind")
    status = filters.ChoiceFilter(
        choices=[*ExceptionStatus.choices, (EVERY, "Any status")],
        empty_label=None,
        method="filter_every",
    )
    older_than = IntegerFilter(
        label="Older than (days)",
        min_value=0,
        max_value=MAX_AGE_DAYS,
        method="filter_older_than",
    )
    platform = filters.ChoiceFilter(
        label="Platform",
        choices=PLATFORMS,
        empty_label="Every platform",
        method="filter_platform",
    )
    assigned = filters.ChoiceFilter(
        label="Assigned to",
        choices=AssignedTo.choices,
        empty_label="Anyone",
        method="filter_assigned",
    )
    associated_ref = filters.CharFilter(
        label="AssociatedRef", field_name="return_ref__associated_ref"
    )
    # return_id (the return's id) comes from the API's filterset.

    class Meta:
        model = ExceptionCase
        fields = []

    def __init__(self, data=None, *args, request=None, **kwargs):
        data = data.copy() if data is not None else {}
        # Defaults apply when a filter is absent: a person who chooses "every team" or "any
        # status" gets exactly that. A link to one return's cases shows every team's.
        if not data.get("owner"):
            names_a_return = data.get("return_id") or data.get("associated_ref")
            data["owner"] = (
                EVERY if names_a_return or request is None else default_owner(request.user)
            )
        if not data.get("status"):
            data["status"] = ExceptionStatus.OPEN
        super().__init__(data, *args, request=request, **kwargs)
        self.form.fields["return_id"].label = "Return id"
        self.form.order_fields(FIELD_ORDER)

    def filter_every(self, queryset, name, value):
        return queryset if value == EVERY else queryset.filter(**{name: value})

    def filter_older_than(self, queryset, name, value):
        return queryset.filter(created_at__lt=timezone.now() - timedelta(days=value))

    def filter_platform(self, queryset, name, value):
        # A case names its platform through its return or, with none (a failed poll, a
        # payload that could not be read), through its connection. Connections are few.
        connections = PlatformConnection.objects.filter(platform=value).values("pk")
        return queryset.filter(
            Q(return_ref__connection__in=connections) | Q(connection__in=connections)
        )

    def filter_assigned(self, queryset, name, value):
        if value == AssignedTo.NOBODY:
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee=self.request.user)
