import re
from base64 import b64decode, b64encode
from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from reconciliation.api import serializers as s
from reconciliation.importers import FileRefused, import_credit_notes
from reconciliation.services import differences
from reconciliation.services.differences import Period, PeriodInvalid
from returns_hub.api.pagination import KeysetPagination
from returns_hub.api.permissions import has_perm

VIEW = "reconciliation.view_creditnote"  # finance (and superusers) read reconciliation
VALIDATION_ERROR = OpenApiResponse(
    {"$ref": "#/components/schemas/ValidationError"}, description="Not a month as YYYY-MM."
)


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


PERIOD = OpenApiParameter(
    "period",
    str,
    OpenApiParameter.PATH,
    pattern=r"^[0-9]{4}-[0-9]{2}$",
    description="A month as YYYY-MM.",
)
DIFFERENCE_PAGE = [
    OpenApiParameter("cursor", str, description="The `next` link's cursor."),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1},
        description=(
            f"Rows per page, at most {KeysetPagination.max_page_size} (a larger number "
            f"returns {KeysetPagination.max_page_size})."
        ),
    ),
]
_CURSOR = re.compile(r"([0-9]{1,2}):([0-9]{1,19})")


class PeriodView(APIView):
    """A period's reconciliation, per platform and currency: platform refunds, store
    credit, expected credit, posted and confirmed, and each difference cause's count and
    amount (the causes' rows are ``/differences/?period=``)."""

    permission_classes = [has_perm(VIEW)]

    @extend_schema(
        parameters=[PERIOD],
        responses={200: s.PeriodSerializer, 400: VALIDATION_ERROR},
    )
    def get(self, request, period):
        try:
            month = Period.parse(period)
        except PeriodInvalid as error:
            raise ValidationError({"period": [str(error)]}) from error
        body = {"period": str(month), "totals": [asdict(t) for t in differences.totals(month)]}
        return Response(s.PeriodSerializer(body).data)


class DifferenceListView(APIView):
    """One row per return, posting, credit note, liability or ignored exception that
    reconciliation cannot tie off, with its cause, amount and owning team. Pages in
    keyset order: by cause, then the source row's id."""

    permission_classes = [has_perm(VIEW)]
    pagination = KeysetPagination()

    @extend_schema(
        parameters=[s.DifferenceQuerySerializer, *DIFFERENCE_PAGE],
        responses={200: s.DifferencePageSerializer},
    )
    def get(self, request):
        # An empty filter is no filter, as an empty form field is.
        given = {name: value for name, value in request.query_params.items() if value != ""}
        query = s.DifferenceQuerySerializer(data=given)
        query.is_valid(raise_exception=True)
        after = self._after(request)
        size = self.pagination.get_page_size(request)
        found = differences.rows(
            query.validated_data.get("period"),
            cause=query.validated_data.get("cause") or None,
            platform=query.validated_data.get("platform") or None,
            after=after,
            limit=size + 1,
        )
        more = len(found) > size
        page = found[:size]
        next_link = None
        if more and page:
            cause, pk = differences.position(page[-1])
            cursor = b64encode(f"{cause}:{pk}".encode()).decode("ascii")
            next_link = replace_query_param(request.build_absolute_uri(), "cursor", cursor)
        body = {"next": next_link, "previous": None, "results": [asdict(row) for row in page]}
        return Response(s.DifferencePageSerializer(body).data)

    def _after(self, request) -> tuple[int, int] | None:
        encoded = request.query_params.get("cursor")
        if not encoded:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
        except ValueError:
            raise NotFound("Invalid cursor") from None
        found = _CURSOR.fullmatch(text)
        if not found or int(found[1]) >= len(differences.CAUSE_ORDER):
            raise NotFound("Invalid cursor")
        return int(found[1]), int(found[2])
