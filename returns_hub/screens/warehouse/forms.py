"""The warehouse's two inputs: the scan box and a unit's grade."""

from django import forms

from returns_hub.validators import no_control_characters


class ScanForm(forms.Form):
    # A scanner types the code and then Enter: one field, submitted by Enter.
    code = forms.CharField(
        label="Scan or type a code",
        max_length=100,
        strip=True,
        validators=[no_control_characters],
        help_text="Label barcode, return id, AssociatedRef, order number, pallet, SKU or barcode.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "enterkeyhint": "search"}
        ),
    )


class GradeForm(forms.Form):
    """A numbered button sends ``disposition``; the box sends what was typed in ``grade``."""

    disposition = forms.CharField(required=False, max_length=100)
    grade = forms.CharField(required=False, max_length=100, validators=[no_control_characters])
    condition = forms.CharField(
        required=False, max_length=50, strip=True, validators=[no_control_characters]
    )

    def typed(self) -> str:
        return self.cleaned_data["disposition"] or self.cleaned_data["grade"]
