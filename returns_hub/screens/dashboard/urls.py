from django.urls import path

from returns_hub import views

urlpatterns = [path("", views.home, name="home")]
