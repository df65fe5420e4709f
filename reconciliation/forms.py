"""The forms of finance's action screens: upload, match by hand, accept, rules, month-end pack."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from reconciliation.models import ReconciliationRule
from reconciliation.services.differences import Period, PeriodInvalid


class CreditNoteUploadForm(forms.Form):
    file = forms.FileField(
        label="Credit note export",
        help_text="The Khaos credit note export, as CSV or XLSX.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,.xlsm"}),
    )
    format = forms.ChoiceField(
        label="Format",
        choices=[("", "From the file name"), ("csv", "CSV"), ("xlsx", "XLSX")],
        required=False,
    )


class CandidateSearchForm(forms.Form):
    """Which return postings to offer for one credit note: by ref or order, and by amount."""

    q = forms.CharField(
        label="AssociatedRef or source order",
        required=False,
        max_length=50,
        help_text="Exactly as in the hub (LOOP-5001) or the platform's order number (1001).",
    )
    amount = forms.DecimalField(
        label="Expected credit near",
        required=False,
        max_digits=12,
        decimal_places=2,
    )
    within = forms.DecimalField(
        label="within ±",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class MatchForm(forms.Form):
    posting = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


DIFFERENCE_KEY = r"^[a-z_]+:\d{1,19}$"  # a difference row's key, "cause:id"
NO_KEY = {"required": "No difference named.", "invalid": "No difference named."}


class AcceptForm(forms.Form):
    key = forms.RegexField(
        regex=DIFFERENCE_KEY, max_length=60, widget=forms.HiddenInput, error_messages=NO_KEY
    )
    note = forms.CharField(
        label="Why it is accepted",
        max_length=500,
        error_messages={"required": "Say why the difference is accepted: a note is required."},
        help_text="Required: the reason this difference is written off.",
        widget=forms.TextInput(attrs={"placeholder": "Why (required)"}),
    )


class ReopenForm(forms.Form):
    key = forms.RegexField(
        regex=DIFFERENCE_KEY, max_length=60, widget=forms.HiddenInput, error_messages=NO_KEY
    )


class ReconciliationRuleForm(forms.ModelForm):
    class Meta:
        model = ReconciliationRule
        fields = list(ReconciliationRule.EDITABLE_FIELDS)
        labels = {"auto_accept_up_to": "Auto-accept up to"}
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}

    # What a rule may say is checked by ReconciliationRule.clean, as in the admin and API.


class RuleMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class MonthEndPackForm(forms.Form):
    period = forms.CharField(
        label="Period",
        max_length=7,
        help_text="A month as YYYY-MM.",
        widget=forms.TextInput(attrs={"placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"}),
    )

    def clean_period(self):
        text = self.cleaned_data["period"].strip()
        try:
            return str(Period.parse(text))
        except PeriodInvalid as error:
            raise forms.ValidationError(str(error)) from error
