"""Filters for lists in the API and on screens. Each filtered column is indexed.

A value a filter cannot use (not a number, a number beyond its column, a NUL,
a word that is not a boolean) makes the form invalid: 400 with the field named,
never a 500 and never a filter silently dropped.
"""

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from returns_hub import platforms
from returns_hub.choices import (
    ExceptionKind,
    ExceptionStatus,
    InboxStatus,
    MoneyState,
    PostingKind,
    PostingState,
    ReturnState,
    Team,
)
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    InboxDelivery,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    KhaosUpload,
    PlatformConnection,
    Posting,
    ReasonMapping,
    Return,
    SkuMapping,
    StockLevel,
    WriteBack,
)
from returns_hub.models.mappings import normalise_email

# PostgreSQL's integer columns: what a filter on one may be compared with.
INTEGER_RANGES = {  # most specific class first: isinstance() picks the first match
    models.PositiveSmallIntegerField: (0, 2**15 - 1),
    models.SmallIntegerField: (-(2**15), 2**15 - 1),
    models.PositiveBigIntegerField: (0, 2**63 - 1),
    models.BigAutoField: (1, 2**63 - 1),
    models.BigIntegerField: (-(2**63), 2**63 - 1),
    models.PositiveIntegerField: (0, 2**31 - 1),
    models.AutoField: (1, 2**31 - 1),
    models.IntegerField: (-(2**31), 2**31 - 1),
}


class _PlatformChoices:
    """The platforms' choices, read when a form or the schema is built (connectors register
    their platforms when Django starts, after this module is imported)."""

    def __iter__(self):
        return iter(platforms.choices())


PLATFORMS = _PlatformChoices()


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(filters.NumberFilter):
    """A whole number within its column's range (django-filter's NumberFilter takes any
    decimal up to 1e50)."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value=-(2**63), max_value=2**63 - 1, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)

    def get_max_validator(self):
        return None  # the bounds are the form field's own


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValidationError("Enter true or false.", code="invalid")


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


def _integer_filter(field) -> dict:
    for model_field, (low, high) in INTEGER_RANGES.items():
        if isinstance(field, model_field):
            return {"min_value": low, "max_value": high}
    return {}


class HubFilterSet(filters.FilterSet):
    """Integer columns get integer filters bounded by the column; booleans are strict."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        **{
            model_field: {"filter_class": IntegerFilter, "extra": _integer_filter}
            for model_field in INTEGER_RANGES
        },
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }


class ReturnFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(field_name="connection__platform", choices=PLATFORMS)
    connection = filters.CharFilter(field_name="connection__slug")
    external_id = filters.CharFilter()
    associated_ref = filters.CharFilter()
    order_ref = filters.CharFilter(method="filter_order_ref")
    customer_email = filters.CharFilter(method="filter_email")
    state = filters.MultipleChoiceFilter(choices=ReturnState.choices)
    money_state = filters.MultipleChoiceFilter(choices=MoneyState.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Return
        fields = []

    def filter_order_ref(self, queryset, name, value):
        return queryset.filter(order_ref=value.strip().lstrip("#"))

    def filter_email(self, queryset, name, value):
        return queryset.filter(customer_email=normalise_email(value))


class ExceptionFilterSet(HubFilterSet):
    kind = filters.MultipleChoiceFilter(choices=ExceptionKind.choices)
    status = filters.MultipleChoiceFilter(choices=ExceptionStatus.choices)
    owner = filters.MultipleChoiceFilter(choices=Team.choices)
    return_id = IntegerFilter(field_name="return_ref_id", min_value=1)

    class Meta:
        model = ExceptionCase
        fields = []


class PostingFilterSet(HubFilterSet):
    state = filters.MultipleChoiceFilter(choices=PostingState.choices)
    kind = filters.ChoiceFilter(choices=PostingKind.choices)
    associated_ref = filters.CharFilter()
    channel = filters.CharFilter(field_name="channel__slug")

    class Meta:
        model = Posting
        fields = []


class SkuMappingFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(choices=PLATFORMS)

    class Meta:
        model = SkuMapping
        fields = ["platform", "platform_sku", "stock_code"]


class ReasonMappingFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(choices=PLATFORMS)

    class Meta:
        model = ReasonMapping
        fields = ["platform", "reason", "khaos_return_reason"]


class DispositionMappingFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(choices=PLATFORMS)

    class Meta:
        model = DispositionMapping
        fields = ["platform", "disposition", "stock_action", "khaos_return_reason", "site_id"]


class CustomerMappingFilterSet(HubFilterSet):
    email = filters.CharFilter(method="filter_email")

    class Meta:
        model = CustomerMapping
        fields = ["email", "urn"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=normalise_email(value))


class KhaosReturnReasonFilterSet(HubFilterSet):
    class Meta:
        model = KhaosReturnReason
        fields = ["processing_type"]


class KhaosProductFilterSet(HubFilterSet):
    barcode = filters.CharFilter(field_name="barcodes__barcode")

    class Meta:
        model = KhaosProduct
        fields = ["stock_id", "stock_code", "deleted", "discontinued", "publish_on_web"]


class StockLevelFilterSet(HubFilterSet):
    stock_code = filters.CharFilter(field_name="product__stock_code")

    class Meta:
        model = StockLevel
        fields = ["site_id"]


class InboxDeliveryFilterSet(HubFilterSet):
    status = filters.MultipleChoiceFilter(choices=InboxStatus.choices)
    connection = filters.CharFilter(field_name="connection__slug")

    class Meta:
        model = InboxDelivery
        fields = ["topic"]


class KhaosUploadFilterSet(HubFilterSet):
    channel = filters.CharFilter(field_name="channel__slug")

    class Meta:
        model = KhaosUpload
        fields = ["endpoint", "status"]


class PlatformConnectionFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(choices=PLATFORMS)

    class Meta:
        model = PlatformConnection
        fields = ["platform", "enabled"]


class KhaosChannelFilterSet(HubFilterSet):
    class Meta:
        model = KhaosChannel
        fields = ["slug"]


class WriteBackFilterSet(HubFilterSet):
    state = filters.MultipleChoiceFilter(choices=WriteBack.State.choices)
    kind = filters.CharFilter()
    platform = filters.ChoiceFilter(field_name="connection__platform", choices=PLATFORMS)
    connection = filters.CharFilter(field_name="connection__slug")
    return_id = IntegerFilter(field_name="return_ref_id", min_value=1)
    associated_ref = filters.CharFilter(field_name="return_ref__associated_ref")

    class Meta:
        model = WriteBack
        fields = []
