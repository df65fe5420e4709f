from django.urls import path

from reconciliation.api import views

urlpatterns = [
    path("credit-notes/", views.CreditNoteImportView.as_view(), name="credit-note-import"),
    path("periods/<str:period>/", views.PeriodView.as_view(), name="reconciliation-period"),
    path("differences/", views.DifferenceListView.as_view(), name="reconciliation-differences"),
]
