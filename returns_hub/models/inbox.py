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


class KhaosUpload(models.Model):
    """One push from Khaos to the channel (stock, stock status, order status), kept whole."""

    class Endpoint(models.TextChoices):
        STOCK = "stock", "StockUpload"
        STOCK_STATUS = "stock-status", "StockStatusUpload"
        ORDER_STATUS = "order-status", "OrderStatusUpload"

    class Status(models.TextChoices):
        STORED = "stored", "Stored"
        REJECTED = "rejected", "Rejected (400)"
        FAILED = "failed", "Failed (500)"

    channel = models.ForeignKey(
        "returns_hub.KhaosChannel", on_delete=models.PROTECT, related_name="uploads"
    )
    endpoint = models.CharField(max_length=20, choices=Endpoint.choices)
    format = models.CharField(max_length=4)
    body = models.BinaryField()
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["channel", "endpoint", "-id"], name="khaos_upload_recent")]

    def __str__(self) -> str:
        return f"{self.get_endpoint_display()} #{self.pk} ({self.status})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


# Named for the OpenAPI schema (ENUM_NAME_OVERRIDES), beside the other "status" choices.
KhaosUploadStatus = KhaosUpload.Status
