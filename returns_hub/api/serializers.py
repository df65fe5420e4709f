import json

from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from returns_hub.api.rows import MAX_INTEGER, ModelCleanMixin, TableRowSerializer
from returns_hub.choices import UnitState
from returns_hub.fixes import fix_link
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    ExchangeRequest,
    InboxDelivery,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    KhaosUpload,
    PlatformConnection,
    Posting,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
    StockLevel,
    StoreCreditLiability,
    TimelineEntry,
    WriteBack,
)


class ReturnUnitSerializer(serializers.ModelSerializer):
    expected_credit = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    expected_credit_estimated = serializers.BooleanField(
        read_only=True, help_text="True: no platform price; estimated from the Khaos SellPrice."
    )
    stock_code = serializers.CharField(source="product.stock_code", default="", read_only=True)

    class Meta:
        model = ReturnUnit
        fields = [
            "id",
            "external_id",
            "platform_sku",
            "barcode",
            "title",
            "price",
            "discount",
            "tax",
            "expected_credit",
            "expected_credit_estimated",
            "reason",
            "outcome",
            "condition",
            "disposition",
            "state",
            "stock_code",
            "khaos_return_reason",
            "site_id",
            "received_at",
            "graded_at",
        ]


class ExchangeRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRequest
        fields = [
            "id",
            "external_id",
            "sequence",
            "platform_sku",
            "title",
            "quantity",
            "value",
            "state",
            "order_status",
        ]


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "kind", "message", "cause", "actor", "unit", "from_state", "to_state"]


class PostingSerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="Empty while held."
    )
    payload = serializers.SerializerMethodField(
        help_text="The Khaos document; amounts are decimal strings, exact to the penny."
    )
    return_id = serializers.IntegerField(source="return_ref_id", read_only=True)

    class Meta:
        model = Posting
        fields = [
            "id",
            "channel",
            "return_id",
            "kind",
            "associated_ref",
            "state",
            "process_return",
            "expected_credit",
            "currency",
            "payload",
            "created_at",
            "ready_at",
            "first_downloaded_at",
            "last_downloaded_at",
            "download_count",
            "confirmed_at",
            "confirmation_ref",
            "confirm_by",
            "withdrawn_at",
        ]

    def get_payload(self, posting) -> dict:
        return json.loads(posting.document, parse_float=str) if posting.document else {}


class ExceptionSerializer(serializers.ModelSerializer):
    return_id = serializers.IntegerField(source="return_ref_id", read_only=True, allow_null=True)
    unit_id = serializers.IntegerField(read_only=True, allow_null=True)
    assignee = serializers.StringRelatedField(allow_null=True)
    resolved_by = serializers.StringRelatedField(allow_null=True)
    fix_url = serializers.SerializerMethodField(
        help_text="The screen form that fixes this case, pre-filled; null when no mapping row does."
    )

    class Meta:
        model = ExceptionCase
        fields = [
            "id",
            "kind",
            "owner",
            "status",
            "return_id",
            "unit_id",
            "message",
            "details",
            "assignee",
            "resolution",
            "resolved_by",
            "resolved_at",
            "occurrences",
            "created_at",
            "updated_at",
            "fix_url",
        ]

    def get_fix_url(self, case) -> str | None:
        link = fix_link(case)
        if link is None:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(link[1]) if request is not None else link[1]


class ReturnListSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="connection.platform", read_only=True)
    connection = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "platform",
            "connection",
            "external_id",
            "associated_ref",
            "order_ref",
            "customer_email",
            "customer_name",
            "currency",
            "state",
            "money_state",
            "platform_state",
            "urn",
            "refunded_amount",
            "store_credit_amount",
            "exchange_amount",
            "refunded_at",
            "platform_created_at",
            "created_at",
            "updated_at",
        ]


class StoreCreditLiabilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = StoreCreditLiability
        fields = ["kind", "reference", "amount", "currency", "issued_at"]


class ReturnDetailSerializer(ReturnListSerializer):
    units = ReturnUnitSerializer(many=True, read_only=True)
    exchanges = ExchangeRequestSerializer(many=True, read_only=True)
    postings = PostingSerializer(many=True, read_only=True)
    exceptions = ExceptionSerializer(many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    liabilities = StoreCreditLiabilitySerializer(many=True, read_only=True)
    expected_credit_estimated = serializers.SerializerMethodField(
        help_text="True when some unit's expected credit is estimated from the Khaos SellPrice."
    )

    class Meta(ReturnListSerializer.Meta):
        fields = [
            *ReturnListSerializer.Meta.fields,
            "address",
            "units",
            "exchanges",
            "postings",
            "exceptions",
            "timeline",
            "liabilities",
            "expected_credit_estimated",
        ]

    def get_expected_credit_estimated(self, ret) -> bool:
        # The units prefetched for the detail; cancelled ones count for nothing.
        return any(
            u.expected_credit_estimated for u in ret.units.all() if u.state != UnitState.CANCELLED
        )


# --- Mapping tables: field names are the CSV columns ---------------------------


def _khaos_reason_field() -> serializers.PrimaryKeyRelatedField:
    # Through an integer field first: 1.5, true or 10**20 are refused as such.
    return serializers.PrimaryKeyRelatedField(
        source="khaos_return_reason",
        queryset=KhaosReturnReason.objects.all(),
        pk_field=serializers.IntegerField(min_value=0, max_value=MAX_INTEGER),
        help_text="The Khaos return reason's id.",
    )


class KhaosReturnReasonSerializer(ModelCleanMixin, TableRowSerializer):
    id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_INTEGER,
        help_text="The reason's ID in Khaos. A PUT or PATCH may repeat it, never change it.",
        validators=[
            UniqueValidator(
                queryset=KhaosReturnReason.objects.all(),
                message="A Khaos return reason with this id already exists.",
            )
        ],
    )

    class Meta:
        model = KhaosReturnReason
        fields = ["id", "name", "processing_type"]


class SkuMappingSerializer(TableRowSerializer):
    class Meta:
        model = SkuMapping
        fields = ["id", "platform", "platform_sku", "stock_code"]


class ReasonMappingSerializer(TableRowSerializer):
    khaos_return_reason_id = _khaos_reason_field()

    class Meta:
        model = ReasonMapping
        fields = ["id", "platform", "reason", "khaos_return_reason_id"]


class DispositionMappingSerializer(ModelCleanMixin, TableRowSerializer):
    khaos_return_reason_id = _khaos_reason_field()

    class Meta:
        model = DispositionMapping
        fields = [
            "id",
            "platform",
            "disposition",
            "stock_action",
            "khaos_return_reason_id",
            "site_id",
        ]


class CustomerMappingSerializer(TableRowSerializer):
    """Email → URN, with the invoice name and address used when a platform sends none
    (each optional; ``country`` an ISO code such as GB, or the country's name)."""

    class Meta:
        model = CustomerMapping
        fields = ["id", "email", "urn", "name", "line1", "town", "postcode", "country"]

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        clash = CustomerMapping.objects.filter(email=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("this email is already mapped")
        return value


# --- Reference data and configuration (read-only) ------------------------------


class KhaosProductSerializer(serializers.ModelSerializer):
    barcodes = serializers.SlugRelatedField(slug_field="barcode", many=True, read_only=True)
    old_codes = serializers.SlugRelatedField(slug_field="stock_code", many=True, read_only=True)

    class Meta:
        model = KhaosProduct
        fields = [
            "id",
            "stock_id",
            "stock_code",
            "description",
            "publish_on_web",
            "discontinued",
            "run_to_zero",
            "stock_controlled",
            "deleted",
            "tax_rate_id",
            "tax_rate_name",
            "sell_price_gross",
            "barcodes",
            "old_codes",
            "updated_at",
        ]


class StockLevelSerializer(serializers.ModelSerializer):
    stock_code = serializers.CharField(source="product.stock_code", read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "stock_code", "site_id", "available", "on_order", "updated_at"]


class InboxDeliveryListSerializer(serializers.ModelSerializer):
    """A delivery in a list: no headers, no body (they are read for the detail only)."""

    connection = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InboxDelivery
        fields = [
            "id",
            "connection",
            "source",
            "topic",
            "dedup_key",
            "status",
            "error",
            "attempts",
            "received_at",
            "processed_at",
        ]


class InboxDeliverySerializer(InboxDeliveryListSerializer):
    """One delivery, kept whole: its headers and body too."""

    body = serializers.CharField(source="body_text", read_only=True)

    class Meta(InboxDeliveryListSerializer.Meta):
        fields = [*InboxDeliveryListSerializer.Meta.fields, "headers", "body"]


class KhaosUploadListSerializer(serializers.ModelSerializer):
    """A Khaos push in a list: no body (it is read for the detail only)."""

    channel = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = KhaosUpload
        fields = [
            "id",
            "channel",
            "endpoint",
            "format",
            "status",
            "error",
            "summary",
            "received_at",
        ]


class KhaosUploadSerializer(KhaosUploadListSerializer):
    """One Khaos push, kept whole: its body too."""

    body = serializers.CharField(source="body_text", read_only=True)

    class Meta(KhaosUploadListSerializer.Meta):
        fields = [*KhaosUploadListSerializer.Meta.fields, "body"]


class PlatformConnectionSerializer(serializers.ModelSerializer):
    base_url = serializers.URLField(
        read_only=True, allow_blank=True, help_text="Empty: the platform's public API."
    )
    webhook_secret = serializers.CharField(source="webhook_secret_masked", read_only=True)
    api_key = serializers.CharField(source="api_key_masked", read_only=True)
    khaos_channel = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = PlatformConnection
        fields = [
            "id",
            "platform",
            "slug",
            "name",
            "enabled",
            "khaos_channel",
            "webhook_secret",
            "api_key",
            "base_url",
            "poll_minutes",
            "posting_policy",
            "currency",
            "time_zone",
            "value_tolerance",
            "settlement_wait_hours",
            "units_not_arrived_days",
            "credit_refunded_shipping",
            "credit_handling_fee",
            "options",
            "last_polled_at",
        ]
        read_only_fields = fields


class KhaosChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = KhaosChannel
        # The password is never shown, not even masked: only its hash is kept.
        fields = [
            "id",
            "slug",
            "name",
            "username",
            "format",
            "default_urn",
            "site_id",
            "download_frequency_minutes",
            "batch_size",
            "confirmation_days",
            "sales_source",
            "company_class_id",
            "source_reference_key",
        ]
        read_only_fields = fields


class WriteBackListSerializer(serializers.ModelSerializer):
    """A write-back in a list: no payload, request or answer (read for the detail only)."""

    connection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    platform = serializers.CharField(source="connection.platform", read_only=True)
    return_id = serializers.IntegerField(source="return_ref_id", read_only=True)
    associated_ref = serializers.CharField(source="return_ref.associated_ref", read_only=True)

    class Meta:
        model = WriteBack
        fields = [
            "id",
            "connection",
            "platform",
            "return_id",
            "associated_ref",
            "kind",
            "state",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class WriteBackSerializer(WriteBackListSerializer):
    """One write-back: the hub's grades, what was last sent (never the key) and the answer."""

    class Meta(WriteBackListSerializer.Meta):
        fields = [*WriteBackListSerializer.Meta.fields, "payload", "request", "response"]
        read_only_fields = fields


class GradeSerializer(serializers.Serializer):
    disposition = serializers.CharField(
        max_length=100, help_text="The platform's grade code, as in the disposition table."
    )
    condition = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RequiredNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="Why the exception is ignored.")


class ActionErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
