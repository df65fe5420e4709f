from rest_framework import serializers

from reconciliation.importers import FORMATS
from reconciliation.services.differences import DifferenceCause, Period, PeriodInvalid
from returns_hub.filtersets import PLATFORMS


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

    def validate_period(self, value):
        try:
            return Period.parse(value)
        except PeriodInvalid as error:
            raise serializers.ValidationError(str(error)) from error


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


class DifferencePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DifferenceRowSerializer(many=True)


class CauseTotalSerializer(serializers.Serializer):
    cause = serializers.ChoiceField(choices=DifferenceCause.choices)
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


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
