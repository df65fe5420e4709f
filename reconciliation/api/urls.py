from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from reconciliation.api import views
from returns_hub.api.urls import not_found

router = SimpleRouter()
router.register("rules", views.ReconciliationRuleViewSet, basename="reconciliation-rule")
router.register("acceptances", views.AcceptanceViewSet, basename="reconciliation-acceptance")

urlpatterns = [
    path("credit-notes/", views.CreditNoteImportView.as_view(), name="credit-note-import"),
    path("periods/<str:period>/", views.PeriodView.as_view(), name="reconciliation-period"),
    path("differences/", views.DifferenceListView.as_view(), name="reconciliation-differences"),
    *router.urls,
    # A path under the rules or acceptances that names no row: the API's JSON 404.
    re_path(r"^(?:rules|acceptances)/.*/\Z", not_found),
]
