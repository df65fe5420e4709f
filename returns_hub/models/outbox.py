"""The platform outbox: calls the hub owes a returns platform (its grades, told back)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class WriteBack(models.Model):
    """One call to make to a returns platform, with what it must say.

    A person grading a return's units on the hub queues one (``services.writeback``),
    in the transaction that records the grade; a task sends it over HTTP through the
    connector's writer, which builds the platform's own body from ``payload`` (the
    hub's grades) when it sends. ``(return, kind, digest)`` is unique: the same grades
    are never queued twice for the same call.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        DONE = "done", "Accepted by the platform"
        FAILED = "failed", "Failed, will be tried again"
        DEAD = "dead", "Given up (platform_unreachable)"
        CANCELLED = "cancelled", "Superseded by new grades before it was sent"

    connection = models.ForeignKey(
        "returns_hub.PlatformConnection", on_delete=models.PROTECT, related_name="write_backs"
    )
    return_ref = models.ForeignKey(
        "returns_hub.Return", on_delete=models.PROTECT, related_name="write_backs"
    )
    # The platform's call: Loop "process" or "flag", Happy Returns "approve", …
    kind = models.CharField(max_length=40)
    # SHA-256 of the grades in ``payload``: new grades are a new write-back.
    digest = models.CharField(max_length=64)
    # The hub's side of the call: the return and each unit's grade and stock action.
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    # What was last sent (method, URL, body; never the key), and what came back.
    request = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    response = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The platform's last HTTP status; empty: no answer."
    )
    last_error = models.TextField(blank=True)
    queued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the platform accepted the call."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "platform write-back"
        ordering = ["-id"]
        permissions = [("retry_writeback", "Can send a platform write-back again now")]
        constraints = [
            models.UniqueConstraint(
                fields=["return_ref", "kind", "digest"], name="write_back_once"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["pending", "sending", "done", "failed", "dead", "cancelled"]
                ),
                name="write_back_state_known",
            ),
        ]
        indexes = [
            # The sender's claim: due rows, soonest first (and sends whose lease ran out).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(state__in=["pending", "failed", "sending"]),
                name="write_back_due",
            ),
            models.Index(fields=["state", "-id"], name="write_back_state_id"),
            models.Index(fields=["connection", "-id"], name="write_back_connection_id"),
            models.Index(fields=["kind", "-id"], name="write_back_kind_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


# Named for the OpenAPI schema (ENUM_NAME_OVERRIDES), beside the other "state" choices.
WriteBackState = WriteBack.State
