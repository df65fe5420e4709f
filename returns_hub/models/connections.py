from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from returns_hub import platforms
from returns_hub.choices import KhaosFormat, PostingPolicy, SourceReferenceKey
from returns_hub.secrets import mask
from returns_hub.validators import time_zone_validator

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,62}$", "Lower-case letters, digits and -.")


class KhaosChannel(models.Model):
    """A Khaos Control Cloud Web Services channel: Khaos polls and pushes to it."""

    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100, blank=True)
    username = models.CharField(max_length=150)
    # Only a hash is kept: the hub checks Khaos's Basic auth, it never sends it.
    password_hash = models.CharField(max_length=256, editable=False)
    format = models.CharField(max_length=4, choices=KhaosFormat.choices, default=KhaosFormat.JSON)
    default_urn = models.CharField(
        max_length=20, blank=True, help_text="Account used when a customer is not mapped."
    )
    site_id = models.PositiveIntegerField(default=1, help_text="Khaos site for exchange orders.")
    sales_source = models.CharField(
        max_length=50, blank=True, help_text="Khaos sales source name for exchange orders."
    )
    company_class_id = models.CharField(
        "company class",
        max_length=50,
        blank=True,
        help_text="Khaos company class (ID or name) sent with exchange orders.",
    )
    download_frequency_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1)]
    )
    batch_size = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    confirmation_days = models.PositiveIntegerField(
        default=7,
        help_text="Days a posting may wait for its credit note before it is an exception.",
    )
    source_reference_key = models.CharField(
        max_length=30,
        choices=SourceReferenceKey.choices,
        default=SourceReferenceKey.TABLE,
        help_text="The key naming a returned item's sales order in the documents served.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(batch_size__lte=1000), name="khaos_batch_max"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.slug

    def set_password(self, raw: str) -> None:
        self.password_hash = make_password(raw)

    def check_credentials(self, username: str, password: str) -> bool:
        # check_password runs even for a wrong user name, so timing does not tell.
        ok = check_password(password, self.password_hash)
        return ok and username == self.username


class PlatformConnection(models.Model):
    """One retailer account on one returns platform."""

    platform = models.CharField(max_length=32, choices=platforms.choices, db_index=True)
    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    khaos_channel = models.ForeignKey(
        KhaosChannel, null=True, blank=True, on_delete=models.PROTECT, related_name="connections"
    )
    webhook_secret = models.CharField(max_length=256, blank=True)
    api_key = models.CharField(max_length=512, blank=True)
    base_url = models.URLField(blank=True)
    poll_minutes = models.PositiveIntegerField(
        default=15, help_text="Minutes between safety-net polls of the platform's API; 0 is off."
    )
    posting_policy = models.CharField(max_length=32, choices=PostingPolicy.choices)
    value_tolerance = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Largest settlement difference accepted without finance; "
        "empty: the hub's default (HUB_VALUE_TOLERANCE).",
    )
    settlement_wait_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Hours a graded return waits for the platform's refund, credit or exchange "
        "before it is settlement_missing; 0 posts on the grade alone; empty: the platform's "
        "default.",
    )
    units_not_arrived_days = models.PositiveIntegerField(
        default=21,
        validators=[MinValueValidator(1)],
        help_text="Days after a refund before units that have not arrived are an exception.",
    )
    currency = models.CharField(
        max_length=3,
        default="GBP",
        validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code in capitals, e.g. GBP.")],
        help_text="The currency of returns whose platform does not say (Happy Returns, ReBound).",
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[time_zone_validator],
        help_text="How to read the platform's times that carry no zone.",
    )
    credit_refunded_shipping = models.BooleanField(
        default=False, help_text="Count refunded shipping in the expected credit."
    )
    credit_handling_fee = models.BooleanField(
        default=False, help_text="Deduct the platform's handling fee from the expected credit."
    )
    # Platform-specific knobs for shapes that are not verified (signature
    # header, encoding, store id, …); each connector documents its keys.
    options = models.JSONField(default=dict, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Since when every poll has failed (cleared by the next success), and why.
    poll_failing_since = models.DateTimeField(null=True, blank=True)
    poll_error = models.TextField(blank=True)
    poll_cursor = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform", "slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def spec(self) -> platforms.PlatformSpec:
        return platforms.get(self.platform)

    @property
    def tolerance(self) -> Decimal:
        if self.value_tolerance is not None:
            return self.value_tolerance
        return settings.HUB["VALUE_TOLERANCE"]

    @property
    def settlement_wait(self) -> int:
        """Hours to wait for the platform's settlement; 0 never waits."""
        if self.settlement_wait_hours is not None:
            return self.settlement_wait_hours
        return self.spec.settlement_wait_hours

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def webhook_secret_masked(self) -> str:
        return mask(self.webhook_secret)

    @property
    def api_key_masked(self) -> str:
        return mask(self.api_key)
