"""The screens' routes: one module per team. ``home`` and ``return-detail`` keep their
plain names (login redirects and every other screen link to them)."""

from django.urls import include, path

urlpatterns = [
    path("", include("returns_hub.screens.dashboard.urls")),
    path("returns/", include("returns_hub.screens.returns.urls")),
    path("warehouse/", include("returns_hub.screens.warehouse.urls")),
    path("cx/", include("returns_hub.screens.cx.urls")),
    path("exceptions/", include("returns_hub.screens.exceptions.urls")),
    path("mappings/", include("returns_hub.screens.mappings.urls")),
    path("connections/", include("returns_hub.screens.connections.urls")),
]
