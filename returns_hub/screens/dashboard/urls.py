"""/ (the dashboard, named ``home``: logins land here) and the saved filters every list
page posts to."""

from django.urls import path

from returns_hub.screens import saved_filters
from returns_hub.screens.dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
    path("saved-filters/", saved_filters.menu, name="saved-filter-menu"),
    path("saved-filters/save/", saved_filters.save, name="save-filter"),
    path("saved-filters/<int:pk>/delete/", saved_filters.delete, name="delete-filter"),
]
