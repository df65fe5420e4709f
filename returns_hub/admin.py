from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from simple_history.admin import SimpleHistoryAdmin

from returns_hub import models, resources
from returns_hub.fixes import fix_link


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UnitInline(ReadOnlyInline):
    model = models.ReturnUnit
    fields = [
        "external_id",
        "platform_sku",
        "product",
        "platform_price",
        "discount",
        "tax",
        "expected_credit",
        "reason",
        "outcome",
        "condition",
        "disposition",
        "grade_note",
        "state",
    ]
    readonly_fields = fields

    @admin.display(description="price")
    def platform_price(self, unit):
        # Happy Returns sends no price: show that, never a 0.00 that looks like one.
        return unit.price if unit.price_known else "none given"

    @admin.display(description="expected credit")
    def expected_credit(self, unit):
        if unit.expected_credit_estimated:
            return f"{unit.expected_credit} (estimate: Khaos SellPrice)"
        return unit.expected_credit


class ExchangeInline(ReadOnlyInline):
    model = models.ExchangeRequest
    fields = ["external_id", "platform_sku", "quantity", "value", "state", "order_status"]
    readonly_fields = fields


class TimelineInline(ReadOnlyInline):
    model = models.TimelineEntry
    fields = ["at", "kind", "message", "cause", "actor", "from_state", "to_state"]
    readonly_fields = fields


@admin.register(models.Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = [
        "associated_ref",
        "connection",
        "order_ref",
        "customer_email",
        "state",
        "money_state",
        "refunded_amount",
        "created_at",
    ]
    list_filter = ["state", "money_state", "connection__platform"]
    search_fields = ["=associated_ref", "=external_id", "=order_ref", "=customer_email"]
    list_select_related = ["connection"]
    readonly_fields = [f.name for f in models.Return._meta.concrete_fields]
    inlines = [UnitInline, ExchangeInline, TimelineInline]
    show_full_result_count = False  # counting a million rows on every page is slow

    def has_add_permission(self, request):
        return False


@admin.register(models.ExceptionCase)
class ExceptionAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "owner", "status", "return_ref", "message", "fix", "created_at"]
    list_filter = ["status", "owner", "kind"]
    search_fields = ["=return_ref__associated_ref", "message"]
    list_select_related = ["return_ref__connection"]  # fix links name the platform
    raw_id_fields = ["return_ref", "unit", "connection", "delivery"]
    readonly_fields = [
        "fix",
        "kind",
        "owner",
        "cause_key",
        "return_ref",
        "unit",
        "connection",
        "delivery",
        "message",
        "details",
        "occurrences",
        "created_at",
    ]
    show_full_result_count = False

    @admin.display(description="Fix")
    def fix(self, case):
        link = fix_link(case) if case.pk else None
        if link is None:
            return "-"
        label, url = link
        return format_html('<a href="{}">{}</a>', url, label)


@admin.register(models.Posting)
class PostingAdmin(admin.ModelAdmin):
    list_display = [
        "associated_ref",
        "kind",
        "state",
        "expected_credit",
        "currency",
        "download_count",
        "confirmation_ref",
        "created_at",
    ]
    list_filter = ["state", "kind", "channel"]
    search_fields = ["=associated_ref", "=confirmation_ref"]
    readonly_fields = [f.name for f in models.Posting._meta.concrete_fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(models.InboxDelivery)
class InboxDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "connection", "source", "topic", "status", "attempts", "received_at"]
    list_filter = ["status", "source", "connection"]
    search_fields = ["=dedup_key", "topic"]
    list_select_related = ["connection"]
    exclude = ["body"]
    readonly_fields = [
        "connection",
        "source",
        "topic",
        "dedup_key",
        "headers",
        "body_text",
        "status",
        "error",
        "attempts",
        "received_at",
        "processed_at",
    ]
    actions = ["process_again"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    @admin.action(description="Process the selected deliveries again", permissions=["retry"])
    def process_again(self, request, queryset):
        from returns_hub.choices import InboxStatus
        from returns_hub.services import inbox

        deliveries = list(queryset.exclude(status=InboxStatus.PROCESSED))
        for delivery in deliveries:
            inbox.requeue(delivery)
        self.message_user(request, f"{len(deliveries)} deliveries queued again.", messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.has_perm("returns_hub.retry_delivery")


class SecretField(forms.CharField):
    """A write-only secret: blank keeps the stored value."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            widget=forms.PasswordInput(render_value=False),
            help_text="Leave blank to keep the stored value.",
            **kwargs,
        )


class PlatformConnectionForm(forms.ModelForm):
    new_webhook_secret = SecretField()
    new_api_key = SecretField()

    class Meta:
        model = models.PlatformConnection
        fields = [
            "platform",
            "slug",
            "name",
            "enabled",
            "khaos_channel",
            "new_webhook_secret",
            "new_api_key",
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
        ]

    def save(self, commit=True):
        if self.cleaned_data.get("new_webhook_secret"):
            self.instance.webhook_secret = self.cleaned_data["new_webhook_secret"]
        if self.cleaned_data.get("new_api_key"):
            self.instance.api_key = self.cleaned_data["new_api_key"]
        return super().save(commit)


@admin.register(models.PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    form = PlatformConnectionForm
    list_display = [
        "slug",
        "platform",
        "enabled",
        "posting_policy",
        "webhook_secret_masked",
        "poll_minutes",
        "last_polled_at",
    ]
    list_filter = ["platform", "enabled"]
    readonly_fields = ["webhook_secret_masked", "api_key_masked", "last_polled_at", "poll_cursor"]


class KhaosChannelForm(forms.ModelForm):
    new_password = SecretField()

    class Meta:
        model = models.KhaosChannel
        fields = [
            "slug",
            "name",
            "username",
            "new_password",
            "format",
            "default_urn",
            "site_id",
            "download_frequency_minutes",
            "batch_size",
            "confirmation_days",
            "source_reference_key",
        ]

    def save(self, commit=True):
        if self.cleaned_data.get("new_password"):
            self.instance.set_password(self.cleaned_data["new_password"])
        return super().save(commit)


@admin.register(models.KhaosChannel)
class KhaosChannelAdmin(admin.ModelAdmin):
    form = KhaosChannelForm
    list_display = ["slug", "username", "format", "default_urn", "site_id", "source_reference_key"]


class ProductBarcodeInline(admin.TabularInline):
    model = models.ProductBarcode
    extra = 0


class StockLevelInline(admin.TabularInline):
    model = models.StockLevel
    extra = 0


@admin.register(models.KhaosProduct)
class KhaosProductAdmin(admin.ModelAdmin):
    list_display = [
        "stock_code",
        "stock_id",
        "description",
        "publish_on_web",
        "discontinued",
        "run_to_zero",
        "deleted",
        "tax_rate_id",
    ]
    list_filter = ["deleted", "discontinued", "run_to_zero", "publish_on_web", "stock_controlled"]
    search_fields = ["=stock_code", "=stock_id", "description", "=barcodes__barcode"]
    inlines = [ProductBarcodeInline, StockLevelInline]


@admin.register(models.StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["product", "site_id", "available", "on_order", "updated_at"]
    list_filter = ["site_id"]
    search_fields = ["=product__stock_code"]
    list_select_related = ["product"]


@admin.register(models.StockCodeHistory)
class StockCodeHistoryAdmin(admin.ModelAdmin):
    list_display = ["stock_code", "product", "replaced_at"]
    search_fields = ["=stock_code"]
    list_select_related = ["product"]


@admin.register(models.ProductBarcode)
class ProductBarcodeAdmin(admin.ModelAdmin):
    list_display = ["barcode", "product"]
    search_fields = ["=barcode", "=product__stock_code"]
    list_select_related = ["product"]


class MappingAdmin(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Mapping tables: CSV/XLSX import with a preview before it applies, and history."""

    # Khaos exports from Windows: a CSV may be Windows-1252 as well as UTF-8.
    import_formats = [resources.WindowsOrUtf8CSV, base_formats.XLSX]


@admin.register(models.KhaosReturnReason)
class KhaosReturnReasonAdmin(MappingAdmin):
    resource_classes = [resources.KhaosReturnReasonResource]
    list_display = ["id", "name", "processing_type"]
    list_filter = ["processing_type"]


@admin.register(models.SkuMapping)
class SkuMappingAdmin(MappingAdmin):
    resource_classes = [resources.SkuMappingResource]
    list_display = ["platform", "platform_sku", "stock_code"]
    list_filter = ["platform"]
    search_fields = ["=platform_sku", "=stock_code"]


@admin.register(models.ReasonMapping)
class ReasonMappingAdmin(MappingAdmin):
    resource_classes = [resources.ReasonMappingResource]
    list_display = ["platform", "reason", "khaos_return_reason"]
    list_filter = ["platform"]
    search_fields = ["reason"]
    list_select_related = ["khaos_return_reason"]


@admin.register(models.DispositionMapping)
class DispositionMappingAdmin(MappingAdmin):
    resource_classes = [resources.DispositionMappingResource]
    list_display = ["platform", "disposition", "stock_action", "khaos_return_reason", "site_id"]
    list_filter = ["platform", "stock_action"]
    list_select_related = ["khaos_return_reason"]


class CustomerMappingForm(forms.ModelForm):
    """A customer row. Opened from an exception's fix link, an existing row's empty
    fields are filled in from what the platform sent (``prefill``), to be checked and saved."""

    prefill: dict[str, str] = {}

    class Meta:
        model = models.CustomerMapping
        fields = ["email", "urn", "name", "line1", "town", "postcode", "country"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound or self.instance.pk is None:
            return  # the add form takes its initial values from the query string itself
        for name, value in self.prefill.items():
            if name in CUSTOMER_PREFILLED and not getattr(self.instance, name):
                self.initial[name] = value


# The fields a fix link may fill in on an existing row (never its email or URN).
CUSTOMER_PREFILLED = ("name", "line1", "town", "postcode", "country")


@admin.register(models.CustomerMapping)
class CustomerMappingAdmin(MappingAdmin):
    resource_classes = [resources.CustomerMappingResource]
    form = CustomerMappingForm
    list_display = ["email", "urn", "name", "line1", "town", "postcode", "country"]
    search_fields = ["=email", "=urn", "name", "=postcode"]
    fieldsets = [
        (None, {"fields": ["email", "urn"]}),
        (
            "Invoice name and address (used when a platform sends none)",
            {"fields": ["name", "line1", "town", "postcode", "country"]},
        ),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or request.method != "GET":
            return form
        prefill = {name: request.GET[name] for name in CUSTOMER_PREFILLED if request.GET.get(name)}
        return type(form.__name__, (form,), {"prefill": prefill}) if prefill else form


@admin.register(models.InboundShipment)
class InboundShipmentAdmin(admin.ModelAdmin):
    list_display = ["reference", "connection", "po_number", "carrier", "departed_at"]
    search_fields = ["=reference", "=po_number"]


@admin.register(models.StoreCreditLiability)
class StoreCreditLiabilityAdmin(admin.ModelAdmin):
    list_display = ["reference", "kind", "amount", "currency", "return_ref", "issued_at"]
    list_filter = ["kind"]
    search_fields = ["=reference", "=return_ref__associated_ref"]
    list_select_related = ["return_ref"]
    raw_id_fields = ["return_ref"]


@admin.register(models.KhaosUpload)
class KhaosUploadAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "endpoint", "format", "status", "received_at"]
    list_filter = ["endpoint", "status", "channel"]
    exclude = ["body"]
    readonly_fields = [
        "channel",
        "endpoint",
        "format",
        "status",
        "error",
        "summary",
        "body_text",
        "received_at",
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.WriteBack)
class WriteBackAdmin(admin.ModelAdmin):
    """The platform outbox, read-only; data staff may send a row again now."""

    list_display = [
        "id",
        "return_ref",
        "connection",
        "kind",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["state", "kind", "connection__platform", "connection"]
    search_fields = ["=return_ref__associated_ref", "=return_ref__external_id"]
    list_select_related = ["return_ref", "connection"]
    readonly_fields = [f.name for f in models.WriteBack._meta.concrete_fields]
    actions = ["send_again_now"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected write-backs again now", permissions=["retry"])
    def send_again_now(self, request, queryset):
        from returns_hub.services import writeback

        sent = sum(writeback.retry(row, user=request.user) for row in queryset)
        skipped = queryset.count() - sent
        note = f" ({skipped} done, being sent or replaced: left alone)" if skipped else ""
        self.message_user(request, f"{sent} write-back(s) queued again now{note}.")

    def has_retry_permission(self, request):
        return request.user.has_perm("returns_hub.retry_writeback")


@admin.register(models.TeamDigest)
class TeamDigestAdmin(admin.ModelAdmin):
    """Per-team daily digest: who receives it, when, and the optional chat webhook."""

    list_display = [
        "team",
        "enabled",
        "send_hour",
        "ageing_days",
        "include_group_members",
        "has_chat_webhook",
        "last_sent_on",
        "last_result",
    ]
    list_filter = ["enabled"]
    fields = [
        "team",
        "enabled",
        "recipients",
        "include_group_members",
        "chat_webhook_url",
        "ageing_days",
        "send_hour",
        "last_sent_on",
        "last_sent_at",
        "last_result",
    ]
    readonly_fields = ["last_sent_on", "last_sent_at", "last_result"]

    @admin.display(boolean=True, description="chat webhook")
    def has_chat_webhook(self, obj):
        return bool(obj.chat_webhook_url)
