"""Add and edit forms for the mapping rows: ModelForms, so the model's own validation
(field validators, ``clean()``, unique constraints) decides, as it does for the admin,
the API and the imports. And the upload form of an import."""

from __future__ import annotations

from pathlib import PurePath

from django import forms

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)
from returns_hub.models.mappings import normalise_email

MAX_IMPORT_BYTES = 20 * 1024 * 1024  # a 100,000-row mapping file is about 5 MB
IMPORT_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


class SkuMappingForm(forms.ModelForm):
    class Meta:
        model = SkuMapping
        fields = ["platform", "platform_sku", "stock_code"]
        labels = {"platform_sku": "Platform SKU", "stock_code": "Khaos Stock Code"}


class ReasonMappingForm(forms.ModelForm):
    class Meta:
        model = ReasonMapping
        fields = ["platform", "reason", "khaos_return_reason"]
        labels = {"reason": "Platform reason", "khaos_return_reason": "Khaos return reason"}


class DispositionMappingForm(forms.ModelForm):
    class Meta:
        model = DispositionMapping
        fields = ["platform", "disposition", "stock_action", "khaos_return_reason", "site_id"]
        labels = {
            "disposition": "Platform grade or outcome",
            "khaos_return_reason": "Khaos return reason",
            "site_id": "Khaos site ID",
        }


class CustomerMappingForm(forms.ModelForm):
    """Email → URN, and the invoice name and address used when a platform sends none."""

    class Meta:
        model = CustomerMapping
        fields = ["email", "urn", "name", "line1", "town", "postcode", "country"]
        labels = {"line1": "Address line 1"}

    def clean_email(self):
        # Stored as the model saves it, so the case-insensitive uniqueness check and the
        # row agree (the API does the same).
        return normalise_email(self.cleaned_data["email"])


class KhaosReturnReasonForm(forms.ModelForm):
    """A Khaos reason. Its ID is Khaos's and names the row: set once, never changed."""

    class Meta:
        model = KhaosReturnReason
        fields = ["id", "name", "processing_type"]
        labels = {"id": "Khaos reason ID"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.instance._state.adding:
            del self.fields["id"]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or XLSX file",
        help_text="The table's columns in the first row, as the export writes them. "
        "A CSV may be UTF-8 or Windows-1252.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = PurePath(upload.name or "").suffix.lower()
        if suffix not in IMPORT_FORMATS:
            raise forms.ValidationError("Choose a .csv or .xlsx file.")
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size // (1024 * 1024)} MB: the most is "
                f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB. Split it into several files."
            )
        upload.import_format = IMPORT_FORMATS[suffix]
        return upload
