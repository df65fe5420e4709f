"""The customer's row (URN, invoice name and address) as CX edits it from a return."""

from __future__ import annotations

from django import forms

from returns_hub.models import CustomerMapping, Return
from returns_hub.services.customers import FIELDS
from returns_hub.services.khaos_documents import PART_NAMES, invoice_party

# The invoice parts Khaos requires, as the row's fields.
PART_FIELDS = {"Line1": "line1", "Town": "town", "Country": "country", "Name": "name"}


class CustomerRowForm(forms.ModelForm):
    """Validated as the admin's and the API's row is (the model's own checks); when an
    incomplete address holds the return, also refused while Khaos would still lack a part,
    naming the field, since saving it would not move the return on."""

    class Meta:
        model = CustomerMapping
        fields = list(FIELDS)
        labels = {
            "urn": "Khaos account (URN)",
            "name": "Name (forename and surname)",
            "line1": "Address line 1",
            "town": "Town",
            "postcode": "Postcode",
            "country": "Country",
        }
        help_texts = {"country": "An ISO code such as GB, or the country's name as in Khaos."}

    def __init__(self, *args, ret: Return, needs_address: bool, **kwargs):
        self.ret = ret
        self.needs_address = needs_address
        super().__init__(*args, **kwargs)
        for name in ("name", "line1", "town", "country"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def clean(self):
        cleaned = super().clean()
        if not self.needs_address or self.errors:
            return cleaned
        candidate = CustomerMapping(
            email=self.instance.email, **{name: cleaned.get(name, "") for name in FIELDS}
        )
        party = invoice_party(self.ret, row=candidate)
        for part in party.missing:
            self.add_error(
                PART_FIELDS[part],
                f"Khaos needs this: the return has {PART_NAMES[part]} without it.",
            )
        return cleaned
