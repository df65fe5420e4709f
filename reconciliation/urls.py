"""/finance/: the reconciliation screens. Reports read; actions change something."""

from django.urls import include, path

app_name = "finance"
urlpatterns = [
    path("", include("reconciliation.views.report_urls")),
    path("", include("reconciliation.views.action_urls")),
]
