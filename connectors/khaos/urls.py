from django.urls import path

from connectors.khaos import views

urlpatterns = [
    path("<str:slug>/config", views.config, name="khaos-config"),
    path("<str:slug>/returns", views.returns, name="khaos-returns"),
    path("<str:slug>/orders", views.orders, name="khaos-orders"),
    path("<str:slug>/stock", views.stock, name="khaos-stock"),
    path("<str:slug>/stock-status", views.stock_status, name="khaos-stock-status"),
    path("<str:slug>/order-status", views.order_status, name="khaos-order-status"),
]
