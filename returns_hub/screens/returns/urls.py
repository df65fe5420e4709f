"""/returns/<id>/ (named ``return-detail``, no namespace: every screen links to it)."""

from django.urls import path

from returns_hub.screens.returns import views

urlpatterns = [
    path("<int:pk>/", views.detail, name="return-detail"),
    path("<int:pk>/approve-value/", views.approve_value, name="return-approve-value"),
]
