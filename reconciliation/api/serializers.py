from rest_framework import serializers

from reconciliation.importers import FORMATS


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
