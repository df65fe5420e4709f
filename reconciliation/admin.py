from django.contrib import admin

from reconciliation.models import CreditNote, CreditNoteImport


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
