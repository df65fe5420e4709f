"""/finance/ screens that read: the period and day views and the lists behind them."""

from django.urls import path

from reconciliation.views import reports

urlpatterns = [
    path("", reports.index, name="index"),
    path("periods/<str:month>/", reports.period, name="period"),
    path("periods/<str:month>/chart/", reports.period_chart, name="period-chart"),
    path("days/<str:on>/", reports.day, name="day"),
    path("differences/", reports.difference_list, name="differences"),
    path("returns/", reports.return_list, name="returns"),
    path("postings/", reports.posting_list, name="postings"),
    path("credit-notes/", reports.credit_note_list, name="credit-notes"),
]
