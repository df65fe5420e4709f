from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class KhaosProduct(models.Model):
    """The Khaos product master, keyed by StockID (permanent; StockCode may change)."""

    stock_id = models.CharField("StockID", max_length=20, unique=True)
    stock_code = models.CharField("Stock Code", max_length=50, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    publish_on_web = models.BooleanField(default=True)
    discontinued = models.BooleanField(default=False)
    # Discontinued but selling its remaining stock: still a live Stock Code for returns.
    run_to_zero = models.BooleanField(default=False)
    stock_controlled = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False, help_text="Listed as Deleted by Khaos.")
    tax_rate_id = models.CharField(max_length=10, blank=True)
    tax_rate_name = models.CharField(max_length=50, blank=True)
    sell_price_gross = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    raw = models.JSONField(
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text="The StockItem as Khaos sent it (decimals kept as text).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stock_code"]
        indexes = [models.Index(fields=["deleted", "discontinued"], name="product_active")]

    def __str__(self) -> str:
        return self.stock_code

    @property
    def is_active(self) -> bool:
        """A live Stock Code: not deleted, and not discontinued unless it runs to zero."""
        return not self.deleted and (not self.discontinued or self.run_to_zero)


class StockCodeHistory(models.Model):
    """A Stock Code a product was known by before it was renamed."""

    product = models.ForeignKey(KhaosProduct, on_delete=models.CASCADE, related_name="old_codes")
    stock_code = models.CharField(max_length=50, db_index=True)
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "stock code history"
        constraints = [
            models.UniqueConstraint(fields=["product", "stock_code"], name="old_code_once"),
        ]

    def __str__(self) -> str:
        return f"{self.stock_code} → {self.product.stock_code}"


class ProductBarcode(models.Model):
    product = models.ForeignKey(KhaosProduct, on_delete=models.CASCADE, related_name="barcodes")
    barcode = models.CharField(max_length=50, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "barcode"], name="barcode_once"),
        ]

    def __str__(self) -> str:
        return self.barcode


class StockLevel(models.Model):
    """Availability of a product at one Khaos site, as Khaos last pushed it."""

    product = models.ForeignKey(KhaosProduct, on_delete=models.CASCADE, related_name="levels")
    site_id = models.PositiveIntegerField()
    # Null when Khaos sends no Levels (an item that is not stock-controlled).
    available = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    on_order = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "site_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "site_id"], name="level_per_site"),
        ]

    def __str__(self) -> str:
        return f"{self.product} @ site {self.site_id}: {self.available}"
