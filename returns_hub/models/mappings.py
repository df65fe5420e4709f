"""The mapping tables the data team keeps. Every change is kept in their history."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from returns_hub import platforms
from returns_hub.choices import NON_RETURN_OUTCOMES, ProcessingType, StockAction
from returns_hub.validators import no_control_characters


class KhaosReturnReason(models.Model):
    """A Khaos return reason. Its processing type decides where stock goes."""

    id = models.PositiveIntegerField(primary_key=True, help_text="The reason's ID in Khaos.")
    name = models.CharField(max_length=100, validators=[no_control_characters])
    processing_type = models.CharField(max_length=20, choices=ProcessingType.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"

    def clean(self):
        super().clean()
        if self.processing_type != ProcessingType.RETURN_TO_STOCK or self.pk is None:
            return
        # The mirror of DispositionMapping.clean: a kept or donated item must not start
        # restocking because the reason it maps to changed type.
        outcomes = DispositionMapping.objects.filter(
            khaos_return_reason_id=self.pk, disposition__in=NON_RETURN_OUTCOMES
        ).order_by("platform", "disposition")
        named = [f"{row.platform} {row.disposition}" for row in outcomes]
        if named:
            raise ValidationError(
                f"Khaos reason {self} cannot be {ProcessingType.RETURN_TO_STOCK.label}: "
                f"the non-return outcome(s) {', '.join(named)} map to it, and a non-return "
                "outcome never restocks.",
                code="non_return_outcome_restocks",
            )


class SkuMapping(models.Model):
    platform = models.CharField(max_length=32, choices=platforms.choices)
    platform_sku = models.CharField(max_length=100, validators=[no_control_characters])
    stock_code = models.CharField(max_length=50, validators=[no_control_characters])
    history = HistoricalRecords()

    class Meta:
        verbose_name = "SKU mapping"
        ordering = ["platform", "platform_sku"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "platform_sku"], name="sku_mapping_once"),
        ]
        # The screen's search matches by prefix (LIKE 'text%'); the database's collation
        # is not C, so only a pattern_ops index answers it (measured: benchmarks/screens.py).
        indexes = [
            models.Index(fields=["stock_code"], name="sku_mapping_code"),
            models.Index(
                fields=["platform_sku"],
                opclasses=["varchar_pattern_ops"],
                name="sku_mapping_sku_prefix",
            ),
            models.Index(
                fields=["stock_code"],
                opclasses=["varchar_pattern_ops"],
                name="sku_mapping_code_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.platform_sku} → {self.stock_code}"


class ReasonMapping(models.Model):
    platform = models.CharField(max_length=32, choices=platforms.choices)
    reason = models.CharField(max_length=200, validators=[no_control_characters])
    khaos_return_reason = models.ForeignKey(KhaosReturnReason, on_delete=models.PROTECT)
    history = HistoricalRecords()

    class Meta:
        ordering = ["platform", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "reason"], name="reason_mapping_once"),
        ]
        indexes = [
            models.Index(
                fields=["reason"],
                opclasses=["varchar_pattern_ops"],
                name="reason_mapping_reason_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.reason} → {self.khaos_return_reason_id}"


class DispositionMapping(models.Model):
    """A platform's grade or non-return outcome → Khaos reason and site."""

    platform = models.CharField(max_length=32, choices=platforms.choices)
    disposition = models.CharField(max_length=100, validators=[no_control_characters])
    stock_action = models.CharField(max_length=20, choices=StockAction.choices)
    khaos_return_reason = models.ForeignKey(KhaosReturnReason, on_delete=models.PROTECT)
    site_id = models.PositiveIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["platform", "disposition"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "disposition"], name="disposition_mapping_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["disposition"],
                opclasses=["varchar_pattern_ops"],
                name="disposition_mapping_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.disposition} → {self.khaos_return_reason_id}"

    def clean(self):
        """A non-return outcome (the goods never come back) must never restock.

        The one home of this rule: the admin form, the API serializer and the
        CSV/XLSX import all call it.
        """
        super().clean()
        if self.disposition not in NON_RETURN_OUTCOMES:
            return
        errors = []
        if self.stock_action == StockAction.RESTOCK:
            errors.append(
                f"{self.disposition} is a non-return outcome: its stock action cannot be "
                f"{StockAction.RESTOCK.label.lower()}."
            )
        reason = self._reason_or_none()
        if reason is not None and reason.processing_type == ProcessingType.RETURN_TO_STOCK:
            errors.append(
                f"{self.disposition} is a non-return outcome: it cannot map to Khaos reason "
                f"{reason}, whose processing type restocks."
            )
        if errors:
            raise ValidationError(
                [ValidationError(e, code="non_return_outcome_restocks") for e in errors]
            )

    def _reason_or_none(self) -> KhaosReturnReason | None:
        # An unknown or missing reason is reported by field validation, not here.
        try:
            return self.khaos_return_reason
        except KhaosReturnReason.DoesNotExist:
            return None


class CustomerMapping(models.Model):
    """A customer's email → their Khaos account (URN). Emails match case-insensitively."""

    email = models.EmailField(max_length=254, db_index=True)
    urn = models.CharField("URN", max_length=20, validators=[no_control_characters])
    # The customer's invoice name and address, for returns whose platform sends none.
    name = models.CharField(max_length=100, blank=True, validators=[no_control_characters])
    line1 = models.CharField(max_length=100, blank=True, validators=[no_control_characters])
    town = models.CharField(max_length=100, blank=True, validators=[no_control_characters])
    postcode = models.CharField(max_length=20, blank=True, validators=[no_control_characters])
    country = models.CharField(
        max_length=60,
        blank=True,
        validators=[no_control_characters],
        help_text="ISO 3166 code (GB) or the country's name as Khaos has it.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_mapping_email_ci"),
        ]
        # The screen's search by the start of an email or a URN (LIKE 'text%').
        indexes = [
            models.Index(
                fields=["email"],
                opclasses=["varchar_pattern_ops"],
                name="customer_mapping_email_prefix",
            ),
            models.Index(
                fields=["urn"],
                opclasses=["varchar_pattern_ops"],
                name="customer_mapping_urn_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.urn}"

    def save(self, *args, **kwargs):
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)


def normalise_email(value: str) -> str:
    return (value or "").strip().lower()
