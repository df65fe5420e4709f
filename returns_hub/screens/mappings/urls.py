from django.urls import path

from returns_hub.screens.mappings import edit_views, import_views, views

app_name = "mappings"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:table>/", views.table_list, name="list"),
    path("<slug:table>/export/", views.export, name="export"),
    path("<slug:table>/add/", edit_views.add, name="add"),
    path("<slug:table>/<int:pk>/", edit_views.edit, name="edit"),
    path("<slug:table>/<int:pk>/delete/", edit_views.delete, name="delete"),
    path("<slug:table>/<int:pk>/history/", views.row_history, name="history"),
    path("<slug:table>/import/", import_views.upload, name="import"),
    path("<slug:table>/import/<str:token>/", import_views.preview, name="import-preview"),
    path("<slug:table>/import/<str:token>/confirm/", import_views.confirm, name="import-confirm"),
    path("<slug:table>/import/<str:token>/cancel/", import_views.cancel, name="import-cancel"),
]
