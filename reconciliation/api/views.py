from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from reconciliation.api import serializers as s
from reconciliation.importers import FileRefused, import_credit_notes
from returns_hub.api.permissions import has_perm


class CreditNoteImportView(APIView):
    """Upload the Khaos credit note export: the same import as ``import_credit_notes``."""

    permission_classes = [has_perm("reconciliation.add_creditnote")]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.CreditNoteUploadSerializer},
        responses={201: s.CreditNoteImportResultSerializer},
    )
    def post(self, request):
        upload = s.CreditNoteUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            file.seek(0)
            result = import_credit_notes(
                file.file,
                file_name=file.name,
                fmt=upload.validated_data.get("format"),
                user=request.user,
            )
        except FileRefused as error:
            raise ValidationError({"file": [f"Refused, nothing imported: {error}"]}) from error
        finally:
            file.close()
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)
