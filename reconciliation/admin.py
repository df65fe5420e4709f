from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from reconciliation.models import Acceptance, CreditNote, CreditNoteImport, ReconciliationRule
from reconciliation.services import acceptances


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "associated_ref",
        "issued_on",
        "gross",
        "currency",
        "match_method",
        "difference",
        "unmatched_reason",
    ]
    list_filter = ["match_method", "currency"]
    search_fields = ["=code", "=associated_ref", "=return_code"]
    date_hierarchy = "issued_on"
    list_select_related = ["posting"]
    raw_id_fields = ["posting", "source", "matched_by_user"]
    # Matches are made by the import and by ``match_by_hand``, which confirm the posting.
    readonly_fields = [
        "posting",
        "match_method",
        "matched_by",
        "matched_by_user",
        "matched_at",
        "expected_credit",
        "difference",
        "difference_tax",
        "difference_discount",
        "difference_shipping",
        "difference_fees",
        "difference_other",
        "unmatched_reason",
    ]


@admin.register(CreditNoteImport)
class CreditNoteImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "uploaded_by",
        "uploaded_at",
        "rows",
        "new",
        "matched",
        "unmatched",
        "refused",
    ]
    readonly_fields = [f.name for f in CreditNoteImport._meta.fields]


@admin.register(ReconciliationRule)
class ReconciliationRuleAdmin(SimpleHistoryAdmin):
    """Finance's rules, in the order they are read: the first active fitting rule decides."""

    list_display = [
        "name",
        "sequence",
        "cause",
        "platform",
        "currency",
        "tolerance",
        "auto_accept_up_to",
        "active",
        "updated_by",
        "updated_at",
    ]
    list_display_links = ["name"]
    list_editable = ["sequence", "tolerance", "auto_accept_up_to"]
    list_filter = ["cause", "platform", "currency", "active"]
    search_fields = ["name", "note"]
    ordering = ["sequence", "id"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Acceptance)
class AcceptanceAdmin(admin.ModelAdmin):
    """Accepted differences: made on /finance/, by the API or by a rule; deleting one
    reopens the difference."""

    list_display = [
        "__str__",
        "cause",
        "platform",
        "currency",
        "amount",
        "accepted_by",
        "accepted_at",
        "note",
    ]
    list_filter = ["cause", "platform", "currency"]
    search_fields = ["accepted_by", "note"]
    date_hierarchy = "accepted_at"
    list_select_related = ["rule", "accepted_by_user"]
    readonly_fields = [f.name for f in Acceptance._meta.fields]

    def has_add_permission(self, request):
        return False  # accepting reads the difference as it is now: acceptances.accept

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        acceptances.reopen(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for acceptance in queryset:
            acceptances.reopen(acceptance, by=request.user)
