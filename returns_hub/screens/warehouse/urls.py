from django.urls import path

from returns_hub.screens.warehouse import actions, views

app_name = "warehouse"
urlpatterns = [
    path("", views.index, name="index"),
    path("scan/", views.scan_code, name="scan"),
    path("returns/<int:pk>/", views.card, name="card"),
    path("returns/<int:pk>/units/<int:unit_id>/receive/", actions.receive, name="receive"),
    path("returns/<int:pk>/units/<int:unit_id>/grade/", actions.grade, name="grade"),
    path("pallets/<str:reference>/", views.pallet, name="pallet"),
]
