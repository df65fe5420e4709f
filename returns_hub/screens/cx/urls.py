from django.urls import path

from returns_hub.screens.cx import views

app_name = "cx"
urlpatterns = [
    path("", views.lookup, name="index"),
    path("returns/<int:pk>/", views.return_view, name="return"),
    path("returns/<int:pk>/customer/", views.save_customer_row, name="customer-row"),
]
