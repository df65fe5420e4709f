"""Per-team daily digest settings: who receives a team's new and ageing exceptions."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models

from returns_hub.choices import Team


def parse_recipients(raw: str) -> list[str]:
    """Addresses from a comma- (or newline-) separated list, or a JSON list of strings.

    Raises ``ValidationError`` for a malformed list or any address that is not one.
    """
    text = (raw or "").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise ValidationError("Recipients look like a JSON list but do not parse.") from None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValidationError("A JSON list of recipients must hold only strings.")
    else:
        items = text.replace("\n", ",").replace(";", ",").split(",")
    addresses: list[str] = []
    bad: list[str] = []
    for item in items:
        address = item.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
            continue
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    if bad:
        raise ValidationError(f"Not email addresses: {', '.join(bad[:10])}")
    return addresses


def validate_recipients(raw: str) -> None:
    parse_recipients(raw)


class TeamDigest(models.Model):
    """One team's daily digest: sent once per local day at or after ``send_hour``."""

    team = models.CharField(max_length=20, choices=Team.choices, unique=True)
    enabled = models.BooleanField(default=True)
    recipients = models.TextField(
        blank=True,
        validators=[validate_recipients],
        help_text="Email addresses, comma-separated or a JSON list.",
    )
    include_group_members = models.BooleanField(
        default=False, help_text="Also send to the email of every active member of the team."
    )
    chat_webhook_url = models.URLField(
        blank=True,
        max_length=500,
        help_text="Optional incoming webhook (Slack, Teams…) that receives a short summary.",
    )
    ageing_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Open cases older than this many days are listed as ageing.",
    )
    send_hour = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(23)],
        help_text="Local hour (TIME_ZONE) at or after which the day's digest is sent.",
    )
    last_sent_on = models.DateField(null=True, blank=True)
    last_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="The next digest's new cases are those since this."
    )
    last_result = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team digest"
        ordering = ["team"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__in=Team.values), name="team_digest_team_known"
            ),
            models.CheckConstraint(
                condition=models.Q(send_hour__lte=23), name="team_digest_send_hour_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_team_display()} digest"

    def recipient_list(self) -> list[str]:
        return parse_recipients(self.recipients)
