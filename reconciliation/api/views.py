import re
from base64 import b64decode, b64encode
from dataclasses import asdict

import django_filters as filters
from django import forms
from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from reconciliation.api import serializers as s
from reconciliation.importers import (
    FileRefused,
    ImportNotFound,
    apply_preview,
    import_credit_notes,
    preview,
)
from reconciliation.models import Acceptance, ReconciliationRule
from reconciliation.services import acceptances, differences
from reconciliation.services.differences import DifferenceCause, Period, PeriodInvalid
from returns_hub.api.pagination import KeysetPagination
from returns_hub.api.parsers import HubJSONParser
from returns_hub.api.permissions import has_perm
from returns_hub.api.views import TableViewSet
from returns_hub.filtersets import PLATFORMS, HubFilterSet, StrictBooleanFilter

VIEW = "reconciliation.view_creditnote"  # finance (and superusers) read reconciliation
VALIDATION_ERROR = OpenApiResponse(
    {"$ref": "#/components/schemas/ValidationError"}, description="Not a month as YYYY-MM."
)
NOT_ACCEPTABLE = OpenApiResponse(
    {"$ref": "#/components/schemas/ValidationError"},
    description="Not accepted: the key names no open difference now (``key`` says why), or "
    "the note is missing.",
)


class CreditNoteImportView(APIView):
    """Upload the Khaos credit note export: the same import as ``import_credit_notes``.

    The file is kept either way. With ``?preview=true`` nothing else is written: the
    answer says what applying it would do, and ``apply=<import_id>`` (no file) then
    applies that kept file, once: a second ``apply`` returns the stored result.
    """

    permission_classes = [has_perm("reconciliation.add_creditnote")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "preview",
                bool,
                description="Keep and check the file, write no credit note: answers 200 with "
                "what applying it would do and the import id to apply.",
            )
        ],
        request={
            "multipart/form-data": s.CreditNoteImportRequestSerializer,
            "application/x-www-form-urlencoded": s.CreditNoteImportRequestSerializer,
        },
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="CreditNotePreviewOrApplied",
                    serializers=[s.CreditNotePreviewSerializer, s.CreditNoteAppliedSerializer],
                    resource_type_field_name=None,
                ),
                description="The preview (``?preview=true``), or an ``apply`` of an import "
                "applied before (``already_applied``: nothing written).",
            ),
            201: OpenApiResponse(s.CreditNoteAppliedSerializer, description="Imported."),
            400: OpenApiResponse(
                {"$ref": "#/components/schemas/ValidationError"},
                description="The file refused as a whole (``file``: why; ``import_id``: the "
                "refused import, which keeps the file), or no previewed import to ``apply``.",
            ),
        },
    )
    def post(self, request):
        upload = s.CreditNoteImportRequestSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        if "apply" in upload.validated_data:
            return self._apply(request, upload.validated_data["apply"])
        wants_preview = request.query_params.get("preview", "").lower() in ("true", "1", "yes")
        run = preview if wants_preview else import_credit_notes
        file = upload.validated_data["file"]
        try:
            file.seek(0)
            result = run(
                file.file,
                file_name=file.name,
                fmt=upload.validated_data.get("format"),
                user=request.user,
            )
        except FileRefused as error:
            return self._refused("file", error)
        finally:
            file.close()
        answer = status.HTTP_200_OK if wants_preview else status.HTTP_201_CREATED
        return Response(result.as_dict(), status=answer)

    def _apply(self, request, import_id: int) -> Response:
        try:
            result = apply_preview(import_id, user=request.user)
        except ImportNotFound as error:
            raise ValidationError({"apply": [str(error)]}) from error
        except FileRefused as error:
            return self._refused("apply", error)
        answer = status.HTTP_200_OK if result.already_applied else status.HTTP_201_CREATED
        return Response(result.as_dict(), status=answer)

    @staticmethod
    def _refused(field_name: str, error: FileRefused) -> Response:
        body = {field_name: [f"Refused, nothing imported: {error}"]}
        if error.import_id:  # as the other error fields: a list of strings
            body["import_id"] = [str(error.import_id)]
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


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
        parameters=[PERIOD, s.PeriodQuerySerializer],
        responses={200: s.PeriodSerializer, 400: VALIDATION_ERROR},
    )
    def get(self, request, period):
        try:
            month = Period.parse(period)
        except PeriodInvalid as error:
            raise ValidationError({"period": [str(error)]}) from error
        query = s.PeriodQuerySerializer(data=_given(request))
        query.is_valid(raise_exception=True)
        totals = differences.totals(month, currency=query.validated_data.get("currency"))
        body = {"period": str(month), "totals": [asdict(t) for t in totals]}
        return Response(s.PeriodSerializer(body).data)


def _given(request) -> dict:
    """The query's parameters; an empty one is no filter, as an empty form field is."""
    return {name: value for name, value in request.query_params.items() if value != ""}


class DifferenceListView(APIView):
    """One row per return, posting, credit note, liability or ignored exception that
    reconciliation cannot tie off, with its cause, amount and owning team; by default the
    open ones (``state``: accepted, or all). Pages in keyset order: by cause, then the
    source row's id."""

    permission_classes = [has_perm(VIEW)]
    pagination = KeysetPagination()

    @extend_schema(
        parameters=[s.DifferenceQuerySerializer, *DIFFERENCE_PAGE],
        responses={200: s.DifferencePageSerializer},
    )
    def get(self, request):
        query = s.DifferenceQuerySerializer(data=_given(request))
        query.is_valid(raise_exception=True)
        after = self._after(request)
        size = self.pagination.get_page_size(request)
        found = differences.rows(
            query.validated_data.get("period"),
            cause=query.validated_data.get("cause") or None,
            platform=query.validated_data.get("platform") or None,
            currency=query.validated_data.get("currency") or None,
            state=query.validated_data["state"],
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


# Finance's rules and acceptances -------------------------------------------------------


class RulePagination(KeysetPagination):
    ordering = ("sequence", "id")  # the order the rules are read in


class ReconciliationRuleFilterSet(HubFilterSet):
    platform = filters.ChoiceFilter(choices=PLATFORMS)

    class Meta:
        model = ReconciliationRule
        fields = ["cause", "platform", "currency", "active"]


class ReconciliationRuleViewSet(TableViewSet):
    """Finance's reconciliation rules, read in sequence order: for a difference's cause,
    platform and currency the first active rule that fits decides (a blank platform or
    currency fits any) its tolerance (value causes) and the amount up to which it is
    accepted automatically (hourly)."""

    queryset = ReconciliationRule.objects.select_related("updated_by")
    serializer_class = s.ReconciliationRuleSerializer
    parser_classes = [HubJSONParser]  # typed values: a rule's switch and amounts are JSON
    filterset_class = ReconciliationRuleFilterSet
    pagination_class = RulePagination

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save(updated_by=self.request.user)

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save(updated_by=self.request.user)


class PeriodFormField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            return Period.parse(value)
        except PeriodInvalid as error:
            raise forms.ValidationError(str(error), code="invalid") from error


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"})
class PeriodFilter(filters.Filter):
    """A month as YYYY-MM (hub time) that a datetime column falls in."""

    field_class = PeriodFormField

    def filter(self, queryset, value):
        return queryset if value is None else queryset.filter(value.moments(self.field_name))


class AcceptanceFilterSet(HubFilterSet):
    cause = filters.ChoiceFilter(choices=DifferenceCause.choices)
    platform = filters.ChoiceFilter(choices=PLATFORMS)
    currency = filters.CharFilter()
    period = PeriodFilter(field_name="accepted_at", help_text="Accepted in this month (YYYY-MM).")
    by_rule = StrictBooleanFilter(
        field_name="rule", lookup_expr="isnull", exclude=True, help_text="Accepted by a rule."
    )

    class Meta:
        model = Acceptance
        fields = ["cause", "platform", "currency"]


class AcceptanceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Accepted (written-off) differences. POST ``{key, note}`` accepts an open difference
    at its amount as it is now; DELETE reopens it. An acceptance holds while the
    difference's amount is the one accepted: if it moves, the difference is open again."""

    queryset = Acceptance.objects.select_related("accepted_by_user")
    serializer_class = s.AcceptanceSerializer
    filterset_class = AcceptanceFilterSet

    @extend_schema(
        request=s.AcceptanceRequestSerializer,
        responses={201: s.AcceptanceSerializer, 400: NOT_ACCEPTABLE},
    )
    def create(self, request, *args, **kwargs):
        asked = s.AcceptanceRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        try:
            acceptance = acceptances.accept(
                asked.validated_data["key"], by=request.user, note=asked.validated_data["note"]
            )
        except acceptances.NotAcceptable as error:
            raise ValidationError({"key": [str(error)]}) from error
        return Response(s.AcceptanceSerializer(acceptance).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        acceptances.reopen(instance, by=self.request.user)
