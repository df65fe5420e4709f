"""Filled in below."""

urlpatterns: list = []
