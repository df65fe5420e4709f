"""Filters for the /finance/ screens (django-filter): the form each page shows, validated.

Every list is read over a span, a month (``period=YYYY-MM``) or one day (``day=YYYY-MM-DD``,
which wins when both are given), and narrowed by platform and currency. A value a filter
cannot use makes the form invalid: the page says which field and answers 400, never a
filter silently dropped.
"""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import QuerySet

from reconciliation.choices import DifferenceCause
from reconciliation.models import CreditNote, MatchMethod
from reconciliation.services import differences
from reconciliation.services.differences import Period, PeriodInvalid
from returns_hub.choices import PostingKind, PostingState, Team
from returns_hub.filtersets import PLATFORMS, HubFilterSet
from returns_hub.models import Posting, Return
from returns_hub.services import postings


class _PeriodTextField(forms.CharField):
    """Text cleaned to a ``Period`` by ``parse``; blank is None, a mistake says ``message``."""

    parse = None
    message = ""

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            return self.parse(text.strip())
        except PeriodInvalid as error:
            raise ValidationError(self.message, code="invalid") from error


class PeriodField(_PeriodTextField):
    """A month as YYYY-MM, cleaned to a ``Period``."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    parse = staticmethod(Period.parse)
    message = "Enter a month as YYYY-MM."


class DayField(_PeriodTextField):
    """A day as YYYY-MM-DD, cleaned to a one-day ``Period``."""

    widget = forms.DateInput(attrs={"type": "date"})
    parse = staticmethod(Period.parse_day)
    message = "Enter a day as YYYY-MM-DD."


class CurrencyField(forms.CharField):
    """An ISO currency code; any case in, upper case out."""

    default_validators = [RegexValidator(r"^[A-Z]{3}$", "Enter a three-letter currency code.")]

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)
        self.widget.attrs.update({"size": 4, "placeholder": "GBP", "autocomplete": "off"})

    def to_python(self, value):
        return super().to_python(value).strip().upper()


class PeriodFilter(filters.Filter):
    field_class = PeriodField


class DayFilter(filters.Filter):
    field_class = DayField


class CurrencyFilter(filters.CharFilter):
    field_class = CurrencyField


def _span_is_applied_whole(queryset, name, value):
    # Period and day are read together by ``SpanFilterSet.span``.
    return queryset


class SpanFilterSet(HubFilterSet):
    """A period or a day, a platform and a currency; ``span_column`` names the date the
    span selects by (a subclass may choose it from the data)."""

    period = PeriodFilter(label="Month", method=_span_is_applied_whole)
    day = DayFilter(label="Day", method=_span_is_applied_whole)
    platform = filters.ChoiceFilter(
        choices=PLATFORMS, empty_label="Every platform", label="Platform"
    )
    currency = CurrencyFilter(label="Currency")

    span_column = ""
    span_is_date = False

    def span(self) -> Period | None:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return data.get("day") or data.get("period")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        span = self.span()
        if span is not None:
            column = self.column()
            queryset = queryset.filter(
                span.days(column) if self.span_is_date else span.moments(column)
            )
        return super().filter_queryset(queryset)

    def column(self) -> str:
        return self.span_column


class RefundedReturnFilterSet(SpanFilterSet):
    """The returns behind "platform refunds": refunded within the span."""

    platform = filters.ChoiceFilter(
        field_name="connection__platform",
        choices=PLATFORMS,
        empty_label="Every platform",
        label="Platform",
    )
    currency = CurrencyFilter(field_name="currency", label="Currency")
    associated_ref = filters.CharFilter(label="AssociatedRef")

    span_column = "refunded_at"

    class Meta:
        model = Return
        fields = []

    @staticmethod
    def base() -> QuerySet:
        return Return.objects.filter(refunded_at__isnull=False).select_related("connection")


class PostingFigure:
    """Which figure a list of postings is behind, and the date that places each in a span."""

    EXPECTED_CREDIT = "expected_credit"
    POSTED = "posted"
    CHOICES = [
        (EXPECTED_CREDIT, "Expected credit (by the day the posting was made)"),
        (POSTED, "Posted (by the day it was offered to Khaos)"),
    ]
    COLUMNS = {EXPECTED_CREDIT: "created_at", POSTED: "ready_at"}


def _figure_is_applied_whole(queryset, name, value):
    # The figure chooses the states and the date column: ``PostingFilterSet.filter_queryset``.
    return queryset


class PostingFilterSet(SpanFilterSet):
    """The return postings behind "expected credit" (made in the span, neither withdrawn nor
    cancelled) or "posted" (offered to Khaos in the span)."""

    figure = filters.ChoiceFilter(
        choices=PostingFigure.CHOICES,
        empty_label=None,
        method=_figure_is_applied_whole,
        label="Figure",
    )
    platform = filters.ChoiceFilter(
        field_name="return_ref__connection__platform",
        choices=PLATFORMS,
        empty_label="Every platform",
        label="Platform",
    )
    currency = CurrencyFilter(field_name="currency", label="Currency")
    state = filters.ChoiceFilter(
        choices=PostingState.choices, empty_label="Any state", label="Posting state"
    )
    associated_ref = filters.CharFilter(label="AssociatedRef")

    class Meta:
        model = Posting
        fields = []

    def chosen_figure(self) -> str:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return data.get("figure") or PostingFigure.POSTED

    def column(self) -> str:
        return PostingFigure.COLUMNS[self.chosen_figure()]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.chosen_figure() == PostingFigure.POSTED:
            queryset = queryset.filter(state__in=postings.SERVABLE, ready_at__isnull=False)
        else:
            queryset = queryset.exclude(state__in=(PostingState.WITHDRAWN, PostingState.CANCELLED))
        return super().filter_queryset(queryset)

    @staticmethod
    def base() -> QuerySet:
        return Posting.objects.filter(kind=PostingKind.RETURN).select_related(
            "return_ref__connection", "credit_note"
        )


class CreditNoteFilterSet(SpanFilterSet):
    """Khaos credit notes by the day they were issued; matched ones are "confirmed"."""

    platform = filters.ChoiceFilter(
        field_name="posting__return_ref__connection__platform",
        choices=PLATFORMS,
        empty_label="Every platform",
        label="Platform",
    )
    currency = CurrencyFilter(field_name="currency", label="Currency")
    matched = filters.ChoiceFilter(
        choices=[("yes", "Matched"), ("no", "Unmatched")],
        method="filter_matched",
        empty_label="Matched or not",
        label="Matched",
    )
    match_method = filters.ChoiceFilter(
        choices=MatchMethod.choices, empty_label="Any method", label="Match method"
    )
    associated_ref = filters.CharFilter(label="AssociatedRef")

    span_column = "issued_on"
    span_is_date = True

    class Meta:
        model = CreditNote
        fields = []

    def filter_matched(self, queryset, name, value):
        return queryset.filter(posting__isnull=value != "yes")

    @staticmethod
    def base() -> QuerySet:
        return CreditNote.objects.select_related("posting__return_ref__connection")


class DifferenceState:
    OPEN, ACCEPTED, ALL = differences.OPEN, differences.ACCEPTED, differences.ALL
    CHOICES = [(OPEN, "Open"), (ACCEPTED, "Accepted"), (ALL, "Open and accepted")]


class DifferenceFilterSet(SpanFilterSet):
    """The difference rows. They are not one model (returns, postings, credit notes,
    liabilities, ignored exceptions): this FilterSet builds and validates the form, and
    ``differences.rows`` reads each cause's own queryset with what it cleaned."""

    cause = filters.ChoiceFilter(
        choices=DifferenceCause.choices, empty_label="Every cause", label="Cause"
    )
    owner = filters.ChoiceFilter(choices=Team.choices, empty_label="Every team", label="Owner")
    state = filters.ChoiceFilter(choices=DifferenceState.CHOICES, empty_label=None, label="State")

    class Meta:
        model = CreditNote  # unused: no queryset is read through this FilterSet
        fields = []

    def __init__(self, data=None, **kwargs):
        super().__init__(data, queryset=CreditNote.objects.none(), **kwargs)

    def values(self) -> dict:
        data = self.form.cleaned_data
        return {
            "period": self.span(),
            "cause": data.get("cause") or None,
            "platform": data.get("platform") or None,
            "currency": data.get("currency") or None,
            "owner": data.get("owner") or None,
            "state": data.get("state") or DifferenceState.OPEN,
        }


class ReportFilterSet(DifferenceFilterSet):
    """The period and day views: a platform and a currency (the span is in the URL)."""

    period = None
    day = None
    cause = None
    owner = None
    state = None


__all__ = [
    "CreditNoteFilterSet",
    "DifferenceFilterSet",
    "DifferenceState",
    "PostingFigure",
    "PostingFilterSet",
    "RefundedReturnFilterSet",
    "ReportFilterSet",
    "SpanFilterSet",
]
