from django.conf import settings
from django.db import models

from reconciliation.choices import PackStatus


class MonthEndPack(models.Model):
    """One month-end pack asked for from the screen or the command, with its progress."""

    period = models.CharField(max_length=7, help_text="YYYY-MM")
    status = models.CharField(max_length=10, choices=PackStatus.choices, default=PackStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The builder's sign of life, written as it claims the pack and with its progress: a
    # running pack whose beat is older than the lease lost its builder (a killed worker).
    beat_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows written so far.")
    file = models.FileField(upload_to="month-end/", blank=True, help_text="The ZIP: XLSX + CSVs.")
    summary = models.JSONField(default=dict, blank=True, help_text="The summary sheet's totals.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["period", "-id"], name="pack_period"),
            models.Index(
                fields=["beat_at"],
                name="pack_running_beat",
                condition=models.Q(status="running"),
            ),
        ]

    def __str__(self) -> str:
        return f"Month-end pack {self.period} ({self.status})"
