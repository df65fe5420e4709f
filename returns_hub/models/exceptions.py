from django.conf import settings
from django.db import models

from returns_hub.choices import EXCEPTION_OWNERS, ExceptionKind, ExceptionStatus, Team


class ExceptionCase(models.Model):
    """Something that stops a return moving on, owned by the team that can fix it.

    ``cause_key`` names the cause (for example the return and the SKU that
    could not be resolved); at most one open exception exists per cause, so a
    repeated event never opens a second one.
    """

    kind = models.CharField(max_length=30, choices=ExceptionKind.choices)
    owner = models.CharField(max_length=20, choices=Team.choices)
    status = models.CharField(
        max_length=10, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN
    )
    cause_key = models.CharField(max_length=255)
    return_ref = models.ForeignKey(
        "returns_hub.Return",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="exceptions",
    )
    unit = models.ForeignKey(
        "returns_hub.ReturnUnit",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="exceptions",
    )
    connection = models.ForeignKey(
        "returns_hub.PlatformConnection",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="exceptions",
    )
    delivery = models.ForeignKey(
        "returns_hub.InboxDelivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exceptions",
    )
    # The Khaos document this case holds, when it holds one.
    posting = models.ForeignKey(
        "returns_hub.Posting",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exceptions",
    )
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "exception"
        permissions = [("resolve_exception", "Can resolve, ignore or retry an exception")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cause_key"],
                condition=models.Q(status=ExceptionStatus.OPEN),
                name="one_open_exception_per_cause",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ExceptionKind.values), name="exception_kind_known"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "owner", "-id"], name="exception_status_owner"),
            models.Index(fields=["kind", "status"], name="exception_kind_status"),
            # Reconciliation's handled_outside: the exceptions ignored in a period.
            models.Index(
                fields=["resolved_at"],
                condition=models.Q(status=ExceptionStatus.IGNORED),
                name="exception_ignored_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"

    def save(self, *args, **kwargs):
        if not self.owner:
            self.owner = EXCEPTION_OWNERS[self.kind]
        super().save(*args, **kwargs)
