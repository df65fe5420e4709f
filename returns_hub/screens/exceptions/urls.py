from django.urls import path

from returns_hub.screens.exceptions import action_views, views

app_name = "exceptions"
urlpatterns = [
    path("", views.index, name="index"),
    path("bulk/", action_views.bulk, name="bulk"),
    path("<int:pk>/", views.case_detail, name="case"),
    path("<int:pk>/assign/", action_views.assign, name="assign"),
    path("<int:pk>/unassign/", action_views.unassign, name="unassign"),
    path("<int:pk>/resolve/", action_views.resolve, name="resolve"),
    path("<int:pk>/ignore/", action_views.ignore, name="ignore"),
    path("<int:pk>/retry/", action_views.retry, name="retry"),
    path("<int:pk>/approve-value/", action_views.approve_value, name="approve-value"),
]
