from django.conf import settings
from django.db import models


class CreditNoteImport(models.Model):
    """One upload of the Khaos credit note export."""

    file_name = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.uploaded_at:%Y-%m-%d})"


class CreditNote(models.Model):
    """A credit note raised in Khaos, as exported by finance."""

    code = models.CharField(max_length=30, unique=True, help_text="Khaos credit note code.")
    return_code = models.CharField(max_length=30, blank=True)
    associated_ref = models.CharField(
        max_length=50, blank=True, help_text="Blank for a credit note raised by hand in Khaos."
    )
    issued_on = models.DateField()
    net = models.DecimalField(max_digits=12, decimal_places=2)
    tax = models.DecimalField(max_digits=12, decimal_places=2)
    gross = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    source = models.ForeignKey(
        CreditNoteImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [
            models.Index(fields=["associated_ref"], name="credit_note_ref"),
            models.Index(fields=["issued_on"], name="credit_note_issued_on"),
        ]

    def __str__(self) -> str:
        return self.code
