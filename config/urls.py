from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from connectors.webhooks import receive
from returns_hub import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("finance/", include("reconciliation.urls")),
    path("api/v1/reconciliation/", include("reconciliation.api.urls")),
    path("api/v1/", include("returns_hub.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # People read the docs in a browser: send them to the login page, not a 401. The split
    # view serves Swagger UI's start-up script at ?script, a file the CSP allows.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("webhooks/<str:platform>/<str:slug>/", receive, name="webhook"),
    path("khaos/", include("connectors.khaos.urls")),
    # The screens for people: /, /returns/<id>/, /warehouse/, /cx/, /exceptions/, …
    path("", include("returns_hub.screens.urls")),
]

admin.site.site_header = "Returns hub"
admin.site.site_title = "Returns hub"
