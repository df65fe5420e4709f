from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from reconciliation.importers import FORMATS
from reconciliation.models import Acceptance, ReconciliationRule
from reconciliation.services.differences import (
    OPEN,
    STATES,
    DifferenceCause,
    Period,
    PeriodInvalid,
)
from returns_hub.api.rows import TableRowSerializer
from returns_hub.filtersets import PLATFORMS

MONEY = {"max_digits": 14, "decimal_places": 2}
CURRENCY = r"^[A-Z]{3}$"


class CreditNoteUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The Khaos credit note export, CSV or XLSX.")
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="By default from the file's name."
    )


class RefusedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row in the file; the header is row 1.")
    code = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class CreditNoteImportResultSerializer(serializers.Serializer):
    import_id = serializers.IntegerField()
    file_name = serializers.CharField()
    format = serializers.CharField()
    rows = serializers.IntegerField()
    matched = serializers.IntegerField()
    new = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    unmatched = serializers.IntegerField()
    refused = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    refused_rows = RefusedRowSerializer(many=True)


class DifferenceQuerySerializer(serializers.Serializer):
    """The differences list's query: every filter optional (an empty one is no filter)."""

    period = serializers.RegexField(
        r"^[0-9]{4}-[0-9]{2}$",
        required=False,
        help_text="A month as YYYY-MM; by the date that matters for each row.",
    )
    cause = serializers.ChoiceField(choices=DifferenceCause.choices, required=False)
    platform = serializers.ChoiceField(choices=PLATFORMS, required=False)
    currency = serializers.RegexField(
        CURRENCY, required=False, help_text="A three-letter currency code, e.g. GBP."
    )
    state = serializers.ChoiceField(
        choices=STATES,
        default=OPEN,
        help_text="open (the default): not accepted, or accepted at another amount; "
        "accepted; or all.",
    )

    def validate_period(self, value):
        try:
            return Period.parse(value)
        except PeriodInvalid as error:
            raise serializers.ValidationError(str(error)) from error


class CreditNoteSplitSerializer(serializers.Serializer):
    tax = serializers.DecimalField(**MONEY, help_text="The note's tax less the units' tax.")
    discount = serializers.DecimalField(**MONEY)
    shipping = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY, help_text="The platform's handling fee.")
    other = serializers.DecimalField(**MONEY, help_text="What the return's data does not explain.")


class DifferenceRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The row's identity: cause and the source row's id.")
    cause = serializers.ChoiceField(choices=DifferenceCause.choices)
    owner = serializers.CharField(help_text="The team that owns the difference.")
    platform = serializers.CharField(
        allow_null=True, help_text="Empty for a credit note the hub knows nothing of."
    )
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    on = serializers.DateField(help_text="The date that matters for the row.")
    age_days = serializers.IntegerField(help_text="Days from that date to today.")
    return_id = serializers.IntegerField(allow_null=True)
    associated_ref = serializers.CharField(allow_blank=True)
    posting_id = serializers.IntegerField(allow_null=True)
    credit_note = serializers.CharField(allow_null=True)
    exception_id = serializers.IntegerField(allow_null=True)
    expected_credit = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    settled = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="What the platform settled: refund, store credit and exchange value.",
    )
    detail = serializers.CharField(allow_blank=True)
    accepted = serializers.BooleanField(
        help_text="Accepted (written off) at this amount, by a person or a rule."
    )
    accepted_by = serializers.CharField(
        allow_blank=True, help_text="The user's name, or ``rule: <name>``."
    )
    accepted_note = serializers.CharField(allow_blank=True)
    tolerance = serializers.DecimalField(
        **MONEY,
        allow_null=True,
        help_text="The tolerance the row was judged by (refund_differs, credit_note_differs).",
    )
    split = CreditNoteSplitSerializer(
        allow_null=True,
        help_text="A credit note's difference explained (credit_note_differs); the parts "
        "add up to the amount.",
    )


class DifferencePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DifferenceRowSerializer(many=True)


class CauseTotalSerializer(serializers.Serializer):
    cause = serializers.ChoiceField(choices=DifferenceCause.choices)
    count = serializers.IntegerField(help_text="Open differences.")
    amount = serializers.DecimalField(**MONEY, help_text="Open differences' amount.")
    accepted_count = serializers.IntegerField(help_text="Differences accepted at their amount.")
    accepted_amount = serializers.DecimalField(**MONEY)


class PeriodTotalSerializer(serializers.Serializer):
    platform = serializers.CharField(
        allow_null=True, help_text="Empty for credit notes the hub knows nothing of."
    )
    currency = serializers.CharField()
    platform_refunds = serializers.DecimalField(max_digits=14, decimal_places=2)
    store_credit = serializers.DecimalField(max_digits=14, decimal_places=2)
    expected_credit = serializers.DecimalField(max_digits=14, decimal_places=2)
    posted = serializers.DecimalField(max_digits=14, decimal_places=2)
    confirmed = serializers.DecimalField(max_digits=14, decimal_places=2)
    causes = CauseTotalSerializer(many=True)


class PeriodSerializer(serializers.Serializer):
    period = serializers.CharField()
    totals = PeriodTotalSerializer(many=True)


class PeriodQuerySerializer(serializers.Serializer):
    currency = serializers.RegexField(
        CURRENCY, required=False, help_text="A three-letter currency code, e.g. GBP."
    )


# Finance's rules and acceptances ----------------------------------------------------------


# The JSON type each kind of field is written in, as the schema says.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.DecimalField, (str,), 'an amount as a string, e.g. "0.50"'),
    (serializers.CharField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
)


class JSONTypedMixin:
    """A value is refused unless it is of the JSON type the schema gives its field (DRF
    would read 1 as "1" or "0" as false): what is sent is what is meant."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            wrong = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data or data[name] is None:
                    continue
                for kind, types, said in _JSON_TYPES:
                    if isinstance(field, kind):
                        value = data[name]
                        if not isinstance(value, types) or (
                            isinstance(value, bool) and bool not in types
                        ):
                            wrong[name] = [f"Send {said}."]
                        break
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


class ReconciliationRuleSerializer(JSONTypedMixin, TableRowSerializer):
    """A rule: the first active one, by sequence, fitting a difference's cause, platform and
    currency decides its tolerance and whether it is accepted automatically."""

    currency = serializers.RegexField(
        CURRENCY,
        required=False,
        allow_blank=True,
        help_text="A three-letter code; blank: every currency.",
    )
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReconciliationRule
        fields = ["id", *ReconciliationRule.EDITABLE_FIELDS, "updated_by", "updated_at"]
        extra_kwargs = {
            "tolerance": {"min_value": 0},
            "auto_accept_up_to": {"min_value": 0},
            "sequence": {"max_value": 2**31 - 1},
        }

    def validate(self, attrs):
        """The rule as it would be saved must pass ReconciliationRule.clean (as the form's and
        the admin's do)."""
        attrs = super().validate(attrs)
        rule = ReconciliationRule(
            **{
                name: attrs.get(name, getattr(self.instance, name, None))
                for name in ("cause", "currency", "tolerance", "auto_accept_up_to")
            }
        )
        try:
            rule.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs


class AcceptanceSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="The difference row's key, cause:id.")
    accepted_by_user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Acceptance
        fields = [
            "id",
            "key",
            "cause",
            "object_id",
            "platform",
            "currency",
            "amount",
            "rule",
            "accepted_by",
            "accepted_by_user",
            "accepted_at",
            "note",
        ]
        read_only_fields = fields


class AcceptanceRequestSerializer(serializers.Serializer):
    key = serializers.CharField(
        max_length=60, help_text="The open difference's key, cause:id, from /differences/."
    )
    note = serializers.CharField(max_length=500, help_text="Why it is accepted; required.")


class CreditNoteImportRequestSerializer(serializers.Serializer):
    """An upload (imported at once, or with ``?preview=true`` only previewed), or ``apply``
    with a previewed import's id and no file."""

    file = serializers.FileField(
        required=False,
        help_text="The Khaos credit note export, CSV (UTF-8 or Windows-1252) or XLSX.",
    )
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="By default from the file's name."
    )
    apply = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A previewed import's id: apply its kept file (no file is sent).",
    )

    def validate(self, attrs):
        if ("file" in attrs) == ("apply" in attrs):
            raise serializers.ValidationError("Send a file, or apply with an import id: one.")
        return attrs


class CreditNotePreviewRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row in the file; the header is row 1.")
    code = serializers.CharField()
    return_code = serializers.CharField(allow_blank=True)
    associated_ref = serializers.CharField(allow_blank=True)
    issued_on = serializers.DateField()
    currency = serializers.CharField()
    net = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax = serializers.DecimalField(max_digits=12, decimal_places=2)
    gross = serializers.DecimalField(max_digits=12, decimal_places=2)
    match_method = serializers.CharField(
        allow_blank=True, help_text="associated_ref, order_and_amount, or empty: unmatched."
    )
    posting = serializers.CharField(
        allow_null=True, help_text="The AssociatedRef of the posting it would match."
    )
    expected_credit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    difference = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    unmatched_reason = serializers.CharField(allow_blank=True)


class CreditNotePreviewSerializer(serializers.Serializer):
    """What applying the kept file would do; nothing is written but the file."""

    import_id = serializers.IntegerField(help_text="Apply it with ``apply=<import_id>``.")
    status = serializers.CharField()
    file_name = serializers.CharField()
    format = serializers.CharField()
    encoding = serializers.CharField(allow_blank=True, help_text="How a CSV is read.")
    sha256 = serializers.CharField()
    rows = serializers.IntegerField()
    new = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    would_match_by_ref = serializers.IntegerField()
    would_match_by_order = serializers.IntegerField()
    matched_by_hand = serializers.IntegerField(
        help_text="Notes in the file a person matched before."
    )
    would_stay_unmatched = serializers.IntegerField()
    refused = serializers.IntegerField()
    refused_rows = RefusedRowSerializer(many=True)
    sample = CreditNotePreviewRowSerializer(many=True, help_text="The first new notes.")
    applied_before = serializers.IntegerField(
        allow_null=True, help_text="An import that applied the same file (by SHA-256)."
    )


class CreditNoteAppliedSerializer(CreditNoteImportResultSerializer):
    status = serializers.CharField()
    already_applied = serializers.BooleanField(
        help_text="Applied before this request, which wrote nothing."
    )
    encoding = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField()
    applied_at = serializers.DateTimeField(allow_null=True)
