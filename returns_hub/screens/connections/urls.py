from django.urls import path

from returns_hub.screens.connections import views

app_name = "connections"
urlpatterns = [
    path("", views.index, name="index"),
    path("channels/<slug:slug>/", views.channel_settings, name="channel"),
    path("<slug:slug>/", views.connection_settings, name="connection"),
    path("<slug:slug>/test-event/", views.test_event, name="test-event"),
]
