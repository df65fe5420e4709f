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

urlpatterns = router.urls
