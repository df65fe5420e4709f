from django.contrib import admin

from reconciliation.models import CreditNote, CreditNoteImport


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ["code", "associated_ref", "issued_on", "net", "tax", "gross", "currency"]
    search_fields = ["=code", "=associated_ref", "=return_code"]
    date_hierarchy = "issued_on"


@admin.register(CreditNoteImport)
class CreditNoteImportAdmin(admin.ModelAdmin):
    list_display = ["file_name", "uploaded_by", "uploaded_at", "rows"]
