from django.urls import path

from reconciliation.api import views

urlpatterns = [
    path("credit-notes/", views.CreditNoteImportView.as_view(), name="credit-note-import"),
]
