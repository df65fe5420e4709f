from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from returns_hub.choices import (
    Cause,
    ExchangeState,
    LiabilityKind,
    MoneyState,
    ReturnState,
    UnitState,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


class Return(models.Model):
    """One return on one platform, as the hub knows it."""

    connection = models.ForeignKey(
        "returns_hub.PlatformConnection", on_delete=models.PROTECT, related_name="returns"
    )
    external_id = models.CharField("platform return id", max_length=100)
    associated_ref = models.CharField("AssociatedRef", max_length=50)
    order_ref = models.CharField(
        "source order", max_length=50, blank=True, help_text="The web order number, without #."
    )
    customer_email = models.CharField(max_length=254, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    address = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3)
    state = models.CharField(
        max_length=20, choices=ReturnState.choices, default=ReturnState.EXPECTED
    )
    money_state = models.CharField(
        max_length=20, choices=MoneyState.choices, default=MoneyState.PENDING
    )
    platform_state = models.CharField(max_length=50, blank=True, help_text="As the platform says.")
    urn = models.CharField("URN", max_length=20, blank=True)
    # What the platform settled, for the value check and reconciliation.
    refunded_amount = models.DecimalField(**MONEY, default=0)
    store_credit_amount = models.DecimalField(**MONEY, default=0)
    exchange_amount = models.DecimalField(**MONEY, default=0)
    refunded_at = models.DateTimeField(null=True, blank=True)
    handling_fee = models.DecimalField(**MONEY, default=0)
    shipping_refunded = models.DecimalField(**MONEY, default=0)
    # Finance approved the platform settling this much; a different amount needs approval again.
    value_approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    value_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    value_approved_at = models.DateTimeField(null=True, blank=True)
    # Finance released a graded return whose settlement never came, at the expected credit.
    settlement_waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settlement_waived_at = models.DateTimeField(null=True, blank=True)
    platform_created_at = models.DateTimeField(null=True, blank=True)
    # The return label as the platform last reported it (label webhooks, polls).
    label_status = models.CharField(max_length=50, blank=True)
    label_carrier = models.CharField(max_length=100, blank=True)
    label_tracking = models.CharField(max_length=100, blank=True)
    label_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="return_once"),
        ]
        permissions = [("approve_value", "Can approve a value mismatch and release its posting")]
        indexes = [
            models.Index(fields=["external_id"], name="return_external_id"),
            models.Index(fields=["associated_ref"], name="return_associated_ref"),
            models.Index(fields=["order_ref"], name="return_order_ref"),
            models.Index(fields=["customer_email"], name="return_customer_email"),
            models.Index(fields=["state", "-id"], name="return_state_id"),
            models.Index(fields=["money_state", "-id"], name="return_money_state_id"),
            models.Index(fields=["connection", "-id"], name="return_connection_id"),
            models.Index(fields=["created_at"], name="return_created_at"),
            # Reconciliation: a period's platform refunds, refunded_not_graded and
            # refund_without_return, and /finance/returns/ in (refunded_at, id) keyset order,
            # from this index alone. Only refunded returns are in it.
            models.Index(
                fields=["refunded_at", "id"],
                include=["connection", "currency", "refunded_amount", "state", "money_state"],
                condition=models.Q(refunded_at__isnull=False),
                name="return_refunded_at",
            ),
            # A posting's or credit note's return, for its platform (by connection) and what
            # the platform settled, without reading the return's row: reconciliation joins
            # a month's postings (100,000 and more) to their returns through it.
            models.Index(
                fields=["id"],
                include=["connection", "refunded_amount", "store_credit_amount", "exchange_amount"],
                name="return_settlement",
            ),
            # The warehouse scan box finds a return by its label's barcode.
            models.Index(fields=["label_tracking"], name="return_label_tracking"),
        ]

    def __str__(self) -> str:
        return self.associated_ref

    @property
    def platform(self) -> str:
        return self.connection.platform


class InboundShipment(models.Model):
    """A consolidated shipment (a pallet) the warehouse should expect."""

    connection = models.ForeignKey(
        "returns_hub.PlatformConnection", on_delete=models.PROTECT, related_name="shipments"
    )
    reference = models.CharField(max_length=100, help_text="Pallet number or shipment id.")
    po_number = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking = models.CharField(max_length=100, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "reference"], name="shipment_once"),
        ]

    def __str__(self) -> str:
        return self.reference


class ReturnUnit(models.Model):
    """One physical unit of a return (a line of quantity 2 is two units)."""

    return_ref = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="units")
    external_id = models.CharField("platform unit id", max_length=100)
    platform_sku = models.CharField(max_length=100, blank=True)
    barcode = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=255, blank=True)
    price = models.DecimalField(**MONEY, default=0)
    # False: the platform gave no price (Happy Returns): Khaos prices the line from
    # the source order and the expected credit is estimated from the Khaos SellPrice.
    price_known = models.BooleanField(default=True)
    discount = models.DecimalField(**MONEY, default=0)
    tax = models.DecimalField(**MONEY, default=0)
    reason = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=50, blank=True, help_text="refund, exchange, keep_item…")
    condition = models.CharField(max_length=50, blank=True, help_text="The platform's grade.")
    disposition = models.CharField(max_length=100, blank=True)
    # Why the platform's grade of this unit was not applied (a shape the hub does not read).
    grade_note = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=20, choices=UnitState.choices, default=UnitState.EXPECTED)
    shipment = models.ForeignKey(
        InboundShipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="units"
    )
    # Resolution results (filled by the resolver, cleared when a cause changes).
    product = models.ForeignKey(
        "returns_hub.KhaosProduct",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    khaos_return_reason = models.ForeignKey(
        "returns_hub.KhaosReturnReason",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    site_id = models.PositiveIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["return_ref", "id"]
        constraints = [
            models.UniqueConstraint(fields=["return_ref", "external_id"], name="unit_once"),
        ]
        permissions = [
            ("receive_unit", "Can confirm a unit arrived"),
            ("grade_unit", "Can grade a unit"),
        ]
        indexes = [
            models.Index(fields=["state"], name="unit_state"),
            models.Index(fields=["platform_sku"], name="unit_platform_sku"),
        ]

    def __str__(self) -> str:
        return f"{self.return_ref_id}/{self.external_id} {self.platform_sku}"

    @property
    def expected_credit(self):
        """Price - discount + tax, per DESIGN's money rule; without a platform price,
        the Khaos SellPrice (gross) of the resolved product, an estimate."""
        if not self.price_known:
            product = self.product
            price = product.sell_price_gross if product is not None else None
            return price if price is not None else Decimal("0.00")
        return self.price - self.discount + self.tax

    @property
    def expected_credit_estimated(self) -> bool:
        return not self.price_known


class ExchangeRequest(models.Model):
    """A replacement the customer asked for instead of (part of) a refund."""

    return_ref = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="exchanges")
    external_id = models.CharField(max_length=100)
    sequence = models.PositiveIntegerField(
        default=1, help_text="1 gives AssociatedRef …-X, 2 gives …-X2."
    )
    platform_sku = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    value = models.DecimalField(**MONEY, default=0)
    state = models.CharField(
        max_length=20, choices=ExchangeState.choices, default=ExchangeState.REQUESTED
    )
    product = models.ForeignKey(
        "returns_hub.KhaosProduct",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    order_status = models.CharField(max_length=30, blank=True, help_text="From Khaos.")

    class Meta:
        ordering = ["return_ref", "id"]
        constraints = [
            models.UniqueConstraint(fields=["return_ref", "external_id"], name="exchange_once"),
        ]

    def __str__(self) -> str:
        return f"{self.return_ref} exchange {self.platform_sku}"


class StoreCreditLiability(models.Model):
    """Store credit or a gift card issued instead of money: a liability to reconcile."""

    return_ref = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="liabilities")
    kind = models.CharField(max_length=20, choices=LiabilityKind.choices)
    reference = models.CharField(max_length=100)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "store credit liabilities"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["return_ref", "reference"], name="liability_once"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency}"


class TimelineEntry(models.Model):
    """One thing that happened to a return, with who or what caused it."""

    return_ref = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="timeline")
    unit = models.ForeignKey(
        ReturnUnit, null=True, blank=True, on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    message = models.TextField()
    cause = models.CharField(max_length=10, choices=Cause.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivery = models.ForeignKey(
        "returns_hub.InboxDelivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The platform event this entry records, so the same event arriving by
    # webhook and by poll is written once.
    event_key = models.CharField(max_length=255, null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name_plural = "timeline entries"
        ordering = ["return_ref", "at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_ref", "event_key"],
                condition=models.Q(event_key__isnull=False),
                name="timeline_event_once",
            ),
        ]
        indexes = [models.Index(fields=["return_ref", "at"], name="timeline_return_at")]

    def __str__(self) -> str:
        return f"{self.return_ref_id} {self.kind}: {self.message}"
