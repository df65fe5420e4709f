from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from returns_hub import filtersets
from returns_hub.api import serializers as s
from returns_hub.api.permissions import has_perm, owns_exception
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    InboxDelivery,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    KhaosUpload,
    PlatformConnection,
    Posting,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
    StockLevel,
    TimelineEntry,
    WriteBack,
)
from returns_hub.services import actions

CONFLICT = OpenApiResponse(s.ActionErrorSerializer, description="Not possible in this state.")
# The URL takes any segment (a non-number is a JSON 404, not the router's HTML one);
# the schema says what a unit id is.
UNIT_ID = OpenApiParameter("unit_id", int, OpenApiParameter.PATH, description="The unit's id.")


def _conflict(error: actions.ActionError) -> Response:
    return Response({"error": str(error)}, status=status.HTTP_409_CONFLICT)


class TableViewSet(viewsets.ModelViewSet):
    """A table people edit. Each write is its own transaction (a savepoint inside a
    request's), so a write the database refuses leaves nothing behind and answers
    4xx (``returns_hub.api.exceptions``). The URL decides the row (the serializers)."""

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()


class ReturnViewSet(viewsets.ReadOnlyModelViewSet):
    """Returns, newest first. The detail view carries units, exchanges, postings,
    open and closed exceptions, and the timeline."""

    filterset_class = filtersets.ReturnFilterSet

    def get_queryset(self):
        queryset = Return.objects.select_related("connection")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("units", ReturnUnit.objects.select_related("product")),
                "exchanges",
                Prefetch("postings", Posting.objects.select_related("channel")),
                "exceptions__assignee",
                "exceptions__resolved_by",
                Prefetch("timeline", TimelineEntry.objects.select_related("actor")),
                "liabilities",
            )
        return queryset

    def get_serializer_class(self):
        return s.ReturnDetailSerializer if self.action == "retrieve" else s.ReturnListSerializer

    def _unit(self, pk, unit_id) -> ReturnUnit:
        # DRF's get_object_or_404: an id that is not a number is 404, not a 500.
        units = ReturnUnit.objects.select_related("return_ref__connection")
        return get_object_or_404(units, pk=unit_id, return_ref_id=pk)

    @extend_schema(
        summary="Confirm a unit arrived",
        parameters=[UNIT_ID],
        request=None,
        responses={200: s.ReturnUnitSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"units/(?P<unit_id>[^/.]+)/receive",
        permission_classes=[has_perm("returns_hub.receive_unit")],
    )
    def receive(self, request, pk=None, unit_id=None):
        unit = self._unit(pk, unit_id)
        try:
            unit = actions.receive_unit(unit, user=request.user)
        except actions.ActionError as error:
            return _conflict(error)
        return Response(s.ReturnUnitSerializer(unit).data)

    @extend_schema(
        summary="Grade a unit",
        description="The disposition code maps through the disposition table to a Khaos "
        "return reason and site; an unmapped code is an exception, never sellable.",
        parameters=[UNIT_ID],
        request=s.GradeSerializer,
        responses={200: s.ReturnUnitSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"units/(?P<unit_id>[^/.]+)/grade",
        permission_classes=[has_perm("returns_hub.grade_unit")],
    )
    def grade(self, request, pk=None, unit_id=None):
        unit = self._unit(pk, unit_id)
        body = s.GradeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            unit = actions.grade_unit(
                unit,
                body.validated_data["disposition"],
                user=request.user,
                condition=body.validated_data["condition"],
            )
        except actions.ActionError as error:
            return _conflict(error)
        return Response(s.ReturnUnitSerializer(unit).data)

    @extend_schema(
        summary="Approve a value mismatch",
        description="Finance accepts what the platform settled; the posting is released.",
        request=s.NoteSerializer,
        responses={200: s.ReturnListSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="approve-value",
        permission_classes=[has_perm("returns_hub.approve_value")],
    )
    def approve_value(self, request, pk=None):
        ret = get_object_or_404(Return, pk=pk)
        body = s.NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            ret = actions.approve_value(ret, user=request.user, note=body.validated_data["note"])
        except actions.ActionError as error:
            return _conflict(error)
        return Response(s.ReturnListSerializer(ret).data)


class ExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Exceptions: what holds a return, which team owns it, and how it was resolved."""

    # The return and its connection: fix_url names the platform and the customer.
    queryset = ExceptionCase.objects.select_related(
        "assignee", "resolved_by", "return_ref__connection"
    )
    serializer_class = s.ExceptionSerializer
    filterset_class = filtersets.ExceptionFilterSet

    def _owned(self, request, pk) -> ExceptionCase:
        case = get_object_or_404(ExceptionCase.objects.select_related("return_ref"), pk=pk)
        if not owns_exception(request.user, case):
            raise PermissionDenied(f"This exception is owned by the {case.owner} team.")
        return case

    def _act(self, request, pk, body_class, do):
        case = self._owned(request, pk)
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            case = do(case, request.user, body.validated_data)
        except actions.ActionError as error:
            return _conflict(error)
        case.refresh_from_db()
        return Response(s.ExceptionSerializer(case).data)

    @extend_schema(
        summary="Resolve an exception",
        description="Marks it resolved and evaluates the return again; if the cause is still "
        "there a new exception opens. A value mismatch is resolved by approving the value.",
        request=s.NoteSerializer,
        responses={200: s.ExceptionSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[has_perm("returns_hub.resolve_exception")],
    )
    def resolve(self, request, pk=None):
        return self._act(
            request,
            pk,
            s.NoteSerializer,
            lambda case, user, data: actions.resolve_exception(case, user=user, note=data["note"]),
        )

    @extend_schema(
        summary="Ignore an exception",
        description="Acknowledges a cause that will not be fixed, with a note; the return "
        "stays held by it and no new exception opens for the same cause.",
        request=s.RequiredNoteSerializer,
        responses={200: s.ExceptionSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[has_perm("returns_hub.resolve_exception")],
    )
    def ignore(self, request, pk=None):
        return self._act(
            request,
            pk,
            s.RequiredNoteSerializer,
            lambda case, user, data: actions.ignore_exception(case, user=user, note=data["note"]),
        )

    @extend_schema(
        summary="Retry now",
        description="Evaluates the return again (or processes the delivery again).",
        request=None,
        responses={200: s.ExceptionSerializer, 409: CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[has_perm("returns_hub.resolve_exception")],
    )
    def retry(self, request, pk=None):
        return self._act(
            request,
            pk,
            s.NoteSerializer,
            lambda case, user, data: actions.retry_exception(case, user=user),
        )


class PostingViewSet(viewsets.ReadOnlyModelViewSet):
    """The outbox: one row per Khaos document, with the payload Khaos downloads."""

    queryset = Posting.objects.select_related("channel")
    serializer_class = s.PostingSerializer
    filterset_class = filtersets.PostingFilterSet


class SkuMappingViewSet(TableViewSet):
    """Platform SKU → Khaos Stock Code, for SKUs that are not Stock Codes already."""

    queryset = SkuMapping.objects.all()
    serializer_class = s.SkuMappingSerializer
    filterset_class = filtersets.SkuMappingFilterSet


class ReasonMappingViewSet(TableViewSet):
    """Platform return reason → Khaos return reason."""

    queryset = ReasonMapping.objects.all()
    serializer_class = s.ReasonMappingSerializer
    filterset_class = filtersets.ReasonMappingFilterSet


class DispositionMappingViewSet(TableViewSet):
    """Platform grade or non-return outcome → Khaos return reason and site."""

    queryset = DispositionMapping.objects.all()
    serializer_class = s.DispositionMappingSerializer
    filterset_class = filtersets.DispositionMappingFilterSet


class CustomerMappingViewSet(TableViewSet):
    """Customer email (case-insensitive) → Khaos URN."""

    queryset = CustomerMapping.objects.all()
    serializer_class = s.CustomerMappingSerializer
    filterset_class = filtersets.CustomerMappingFilterSet


class KhaosReturnReasonViewSet(TableViewSet):
    """Khaos return reasons and their processing type (return to stock or write off)."""

    queryset = KhaosReturnReason.objects.all()
    serializer_class = s.KhaosReturnReasonSerializer
    filterset_class = filtersets.KhaosReturnReasonFilterSet


class KhaosProductViewSet(viewsets.ReadOnlyModelViewSet):
    """The Khaos product master, as Khaos last pushed it."""

    queryset = KhaosProduct.objects.prefetch_related("barcodes", "old_codes")
    serializer_class = s.KhaosProductSerializer
    filterset_class = filtersets.KhaosProductFilterSet


class StockLevelViewSet(viewsets.ReadOnlyModelViewSet):
    """Availability per product and Khaos site."""

    queryset = StockLevel.objects.select_related("product")
    serializer_class = s.StockLevelSerializer
    filterset_class = filtersets.StockLevelFilterSet


class InboxDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Every delivery from the platforms, kept whole; headers and body in the detail only."""

    queryset = InboxDelivery.objects.select_related("connection")
    serializer_class = s.InboxDeliverySerializer
    filterset_class = filtersets.InboxDeliveryFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.defer("headers", "body")  # a page of bodies is never read
        return queryset

    def get_serializer_class(self):
        return s.InboxDeliveryListSerializer if self.action == "list" else s.InboxDeliverySerializer


class KhaosUploadViewSet(viewsets.ReadOnlyModelViewSet):
    """Every push from Khaos (stock, stock status, order status), kept whole; the body in
    the detail only."""

    queryset = KhaosUpload.objects.select_related("channel")
    serializer_class = s.KhaosUploadSerializer
    filterset_class = filtersets.KhaosUploadFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.defer("body")  # a page of bodies is never read
        return queryset

    def get_serializer_class(self):
        return s.KhaosUploadListSerializer if self.action == "list" else s.KhaosUploadSerializer


class PlatformConnectionViewSet(viewsets.ReadOnlyModelViewSet):
    """Platform connections; secrets are masked. Change them with ``set_connection``."""

    queryset = PlatformConnection.objects.select_related("khaos_channel")
    serializer_class = s.PlatformConnectionSerializer
    filterset_class = filtersets.PlatformConnectionFilterSet


class KhaosChannelViewSet(viewsets.ReadOnlyModelViewSet):
    """Khaos channels; the password is never shown. Change them with ``set_khaos_channel``."""

    queryset = KhaosChannel.objects.all()
    serializer_class = s.KhaosChannelSerializer
    filterset_class = filtersets.KhaosChannelFilterSet


class WriteBackViewSet(viewsets.ReadOnlyModelViewSet):
    """The platform outbox: grades told back to the platforms, with each call's state and
    the platform's last answer; the grades, request and answer in the detail only."""

    queryset = WriteBack.objects.select_related("connection", "return_ref")
    filterset_class = filtersets.WriteBackFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.defer("payload", "request", "response")
        return queryset

    def get_serializer_class(self):
        return s.WriteBackListSerializer if self.action == "list" else s.WriteBackSerializer
