import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from reconciliation.choices import VALUE_CAUSES, DifferenceCause
from returns_hub import platforms

MONEY = {"max_digits": 12, "decimal_places": 2}
CURRENCY = re.compile(r"[A-Z]{3}")


class ReconciliationRule(models.Model):
    """How finance treats a cause's differences, as Odoo's reconciliation models do.

    Rules are read in ``sequence`` order and the first active one whose cause, platform and
    currency fit a difference decides for it (a blank platform or currency fits any).
    ``tolerance``: a value difference (refund_differs, credit_note_differs) no larger than
    this is no difference at all. ``auto_accept_up_to``: a difference of any cause no larger
    than this is accepted by the rule, recorded as an Acceptance naming the rule.
    """

    sequence = models.PositiveIntegerField(default=10, help_text="Lower first.")
    name = models.CharField(max_length=100)
    cause = models.CharField(max_length=30, choices=DifferenceCause.choices)
    platform = models.CharField(
        max_length=32, choices=platforms.choices, blank=True, help_text="Blank: every platform."
    )
    currency = models.CharField(max_length=3, blank=True, help_text="Blank: every currency.")
    tolerance = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Blank: the connection's or the hub's."
    )
    auto_accept_up_to = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Blank: never accepted automatically."
    )
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    # The fields finance sets, in the order they are shown: the /finance/ form's and the
    # API's (which adds its id and who changed the rule last, when).
    EDITABLE_FIELDS = (
        "sequence",
        "name",
        "cause",
        "platform",
        "currency",
        "tolerance",
        "auto_accept_up_to",
        "active",
        "note",
    )

    class Meta:
        ordering = ["sequence", "id"]
        indexes = [models.Index(fields=["cause", "sequence"], name="rule_cause_sequence")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tolerance__isnull=True) | models.Q(tolerance__gte=0),
                name="rule_tolerance_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(auto_accept_up_to__isnull=True)
                | models.Q(auto_accept_up_to__gte=0),
                name="rule_auto_accept_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sequence}. {self.name}"

    def clean(self) -> None:
        """What a rule may say, checked alike by the screen's form, the admin and the API."""
        errors = {}
        if self.currency and not CURRENCY.fullmatch(self.currency):
            errors["currency"] = (
                "A currency is three capital letters (GBP, EUR), or blank for every currency."
            )
        for name in ("tolerance", "auto_accept_up_to"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                errors[name] = "An amount here cannot be negative."
        if (
            self.tolerance is not None
            and self.cause not in VALUE_CAUSES
            and "tolerance" not in errors
        ):
            errors["tolerance"] = (
                "A tolerance applies only to value differences (refund_differs, "
                f"credit_note_differs), not to {self.cause}: leave it blank."
            )
        if errors:
            raise ValidationError(errors)


class Acceptance(models.Model):
    """A difference finance accepted (wrote off), by hand or by a rule.

    ``object_id`` is the difference row's id within its cause (the ``key`` ``cause:id``).
    The acceptance holds while the difference's amount is the one accepted: if the amount
    moves, the difference is open again.
    """

    cause = models.CharField(max_length=30, choices=DifferenceCause.choices)
    object_id = models.PositiveBigIntegerField()
    platform = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    amount = models.DecimalField(**MONEY)
    rule = models.ForeignKey(
        ReconciliationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.CharField(max_length=150, help_text="The user's name, or the rule.")
    accepted_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-accepted_at", "-id"]
        indexes = [models.Index(fields=["accepted_at"], name="acceptance_accepted_at")]
        constraints = [
            models.UniqueConstraint(fields=["cause", "object_id"], name="acceptance_one_per_row"),
        ]

    def __str__(self) -> str:
        return f"{self.cause}:{self.object_id}"

    @property
    def key(self) -> str:
        return f"{self.cause}:{self.object_id}"
