from django.db import models

from returns_hub.choices import InboxSource, InboxStatus


class InboxDelivery(models.Model):
    """One delivery from a platform (webhook or poll), kept whole before processing."""

    connection = models.ForeignKey(
        "returns_hub.PlatformConnection", on_delete=models.PROTECT, related_name="deliveries"
    )
    source = models.CharField(max_length=10, choices=InboxSource.choices)
    topic = models.CharField(max_length=100, blank=True)
    # Platform-specific: the platform's event id where it sends one, else a
    # digest of the body, so a redelivery is recognised.
    dedup_key = models.CharField(max_length=255)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField()
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.RECEIVED
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    duplicates = models.PositiveIntegerField(
        default=0, help_text="How many times the same delivery arrived again."
    )

    class Meta:
        verbose_name = "inbox delivery"
        verbose_name_plural = "inbox deliveries"
        permissions = [("retry_delivery", "Can process a delivery again")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "dedup_key"], name="inbox_dedup_key"),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="inbox_status_id"),
            models.Index(fields=["connection", "-id"], name="inbox_connection_id"),
            models.Index(fields=["topic"], name="inbox_topic"),
        ]

    def __str__(self) -> str:
        return f"{self.connection.slug} {self.topic or '?'} #{self.pk}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
