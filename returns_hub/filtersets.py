"""Filters for lists in the API and on screens. Each filtered column is indexed."""

import django_filters as filters

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
)
from returns_hub.models.mappings import normalise_email


class ReturnFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(field_name="connection__platform", choices=platforms.choices)
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


class ExceptionFilterSet(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=ExceptionKind.choices)
    status = filters.MultipleChoiceFilter(choices=ExceptionStatus.choices)
    owner = filters.MultipleChoiceFilter(choices=Team.choices)
    return_id = filters.NumberFilter(field_name="return_ref_id")

    class Meta:
        model = ExceptionCase
        fields = []


class PostingFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=PostingState.choices)
    kind = filters.ChoiceFilter(choices=PostingKind.choices)
    associated_ref = filters.CharFilter()
    channel = filters.CharFilter(field_name="channel__slug")

    class Meta:
        model = Posting
        fields = []


class SkuMappingFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=platforms.choices)

    class Meta:
        model = SkuMapping
        fields = ["platform", "platform_sku", "stock_code"]


class ReasonMappingFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=platforms.choices)

    class Meta:
        model = ReasonMapping
        fields = ["platform", "reason", "khaos_return_reason"]


class DispositionMappingFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=platforms.choices)

    class Meta:
        model = DispositionMapping
        fields = ["platform", "disposition", "stock_action", "khaos_return_reason", "site_id"]


class CustomerMappingFilterSet(filters.FilterSet):
    email = filters.CharFilter(method="filter_email")

    class Meta:
        model = CustomerMapping
        fields = ["email", "urn"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=normalise_email(value))


class KhaosReturnReasonFilterSet(filters.FilterSet):
    class Meta:
        model = KhaosReturnReason
        fields = ["processing_type"]


class KhaosProductFilterSet(filters.FilterSet):
    barcode = filters.CharFilter(field_name="barcodes__barcode")

    class Meta:
        model = KhaosProduct
        fields = ["stock_id", "stock_code", "deleted", "discontinued", "publish_on_web"]


class StockLevelFilterSet(filters.FilterSet):
    stock_code = filters.CharFilter(field_name="product__stock_code")

    class Meta:
        model = StockLevel
        fields = ["site_id"]


class InboxDeliveryFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=InboxStatus.choices)
    connection = filters.CharFilter(field_name="connection__slug")

    class Meta:
        model = InboxDelivery
        fields = ["topic"]


class KhaosUploadFilterSet(filters.FilterSet):
    channel = filters.CharFilter(field_name="channel__slug")

    class Meta:
        model = KhaosUpload
        fields = ["endpoint", "status"]


class PlatformConnectionFilterSet(filters.FilterSet):
    platform = filters.ChoiceFilter(choices=platforms.choices)

    class Meta:
        model = PlatformConnection
        fields = ["platform", "enabled"]


class KhaosChannelFilterSet(filters.FilterSet):
    class Meta:
        model = KhaosChannel
        fields = ["slug"]
