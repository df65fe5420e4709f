from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from returns_hub.api import views

router = DefaultRouter()
router.register("returns", views.ReturnViewSet, basename="return")
router.register("exceptions", views.ExceptionViewSet, basename="exception")
router.register("postings", views.PostingViewSet, basename="posting")
router.register("mappings/skus", views.SkuMappingViewSet, basename="sku-mapping")
router.register("mappings/reasons", views.ReasonMappingViewSet, basename="reason-mapping")
router.register(
    "mappings/dispositions", views.DispositionMappingViewSet, basename="disposition-mapping"
)
router.register("mappings/customers", views.CustomerMappingViewSet, basename="customer-mapping")
router.register("khaos/return-reasons", views.KhaosReturnReasonViewSet, basename="khaos-reason")
router.register("khaos/products", views.KhaosProductViewSet, basename="khaos-product")
router.register("khaos/stock-levels", views.StockLevelViewSet, basename="stock-level")
router.register("khaos/channels", views.KhaosChannelViewSet, basename="khaos-channel")
router.register("khaos/uploads", views.KhaosUploadViewSet, basename="khaos-upload")
router.register("inbox", views.InboxDeliveryViewSet, basename="inbox-delivery")
router.register("connections", views.PlatformConnectionViewSet, basename="connection")
router.register("write-backs", views.WriteBackViewSet, basename="write-back")


@csrf_exempt  # a write to nowhere is 404, not a CSRF 403
def not_found(request, *args, **kwargs):
    """A path under the API's tables that names no route (an id with a dot or a slash in
    it, an empty segment): the JSON 404 the API gives, not the site's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


# Only under this router's own prefixes, so other /api/v1/ routes are never shadowed;
# only with the trailing slash, so a path without it is still redirected to it.
_PREFIXES = "|".join(sorted({prefix.split("/")[0] for prefix, _, _ in router.registry}))

urlpatterns = [*router.urls, re_path(rf"^(?:{_PREFIXES})/.*/\Z", not_found)]
