from django.db.models import Prefetch
from rest_framework import viewsets

from returns_hub import filtersets
from returns_hub.api import serializers as s
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    InboxDelivery,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    PlatformConnection,
    Posting,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
    StockLevel,
    TimelineEntry,
)


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
            )
        return queryset

    def get_serializer_class(self):
        return s.ReturnDetailSerializer if self.action == "retrieve" else s.ReturnListSerializer


class ExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Exceptions: what holds a return, which team owns it, and how it was resolved."""

    queryset = ExceptionCase.objects.select_related("assignee", "resolved_by")
    serializer_class = s.ExceptionSerializer
    filterset_class = filtersets.ExceptionFilterSet


class PostingViewSet(viewsets.ReadOnlyModelViewSet):
    """The outbox: one row per Khaos document, with the payload Khaos downloads."""

    queryset = Posting.objects.select_related("channel")
    serializer_class = s.PostingSerializer
    filterset_class = filtersets.PostingFilterSet


class SkuMappingViewSet(viewsets.ModelViewSet):
    """Platform SKU → Khaos Stock Code, for SKUs that are not Stock Codes already."""

    queryset = SkuMapping.objects.all()
    serializer_class = s.SkuMappingSerializer
    filterset_class = filtersets.SkuMappingFilterSet


class ReasonMappingViewSet(viewsets.ModelViewSet):
    """Platform return reason → Khaos return reason."""

    queryset = ReasonMapping.objects.all()
    serializer_class = s.ReasonMappingSerializer
    filterset_class = filtersets.ReasonMappingFilterSet


class DispositionMappingViewSet(viewsets.ModelViewSet):
    """Platform grade or non-return outcome → Khaos return reason and site."""

    queryset = DispositionMapping.objects.all()
    serializer_class = s.DispositionMappingSerializer
    filterset_class = filtersets.DispositionMappingFilterSet


class CustomerMappingViewSet(viewsets.ModelViewSet):
    """Customer email (case-insensitive) → Khaos URN."""

    queryset = CustomerMapping.objects.all()
    serializer_class = s.CustomerMappingSerializer
    filterset_class = filtersets.CustomerMappingFilterSet


class KhaosReturnReasonViewSet(viewsets.ModelViewSet):
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
    """Every delivery from the platforms, kept whole."""

    queryset = InboxDelivery.objects.select_related("connection")
    serializer_class = s.InboxDeliverySerializer
    filterset_class = filtersets.InboxDeliveryFilterSet


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
