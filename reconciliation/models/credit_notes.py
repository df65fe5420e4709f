from django.conf import settings
from django.db import models

from reconciliation.choices import ImportStatus


class MatchMethod(models.TextChoices):
    """How a credit note was tied to the hub's return posting."""

    ASSOCIATED_REF = "associated_ref", "By AssociatedRef"
    ORDER_AND_AMOUNT = "order_and_amount", "By source order and amount"
    MANUAL = "manual", "By hand"


class CreditNoteImport(models.Model):
    """One upload of the Khaos credit note export, with what it came to."""

    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=4, default="csv")
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.APPLIED
    )
    # The file as uploaded, kept: a preview is applied from it, and finance can fetch it again.
    file = models.FileField(upload_to="credit-notes/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    encoding = models.CharField(max_length=20, blank=True, help_text="How a CSV was decoded.")
    applied_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField(default=0, help_text="Data rows read (blank rows skipped).")
    new = models.PositiveIntegerField(default=0, help_text="Credit notes first seen in this file.")
    unchanged = models.PositiveIntegerField(
        default=0, help_text="Rows identical to a credit note imported before."
    )
    matched = models.PositiveIntegerField(
        default=0, help_text="Credit notes of this file matched to a hub posting."
    )
    unmatched = models.PositiveIntegerField(
        default=0, help_text="Credit notes of this file matching no hub posting."
    )
    refused = models.PositiveIntegerField(default=0, help_text="Rows not imported.")
    confirmed = models.PositiveIntegerField(default=0, help_text="Postings this import confirmed.")
    # [{"row": 4, "code": "CN…", "reason": "…"}], the first REFUSALS_KEPT of them.
    refusals = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.uploaded_at:%Y-%m-%d})"


class CreditNote(models.Model):
    """A credit note raised in Khaos, as exported by finance, and what it confirms."""

    code = models.CharField(max_length=30, unique=True, help_text="Khaos credit note code.")
    return_code = models.CharField(max_length=30, blank=True)
    associated_ref = models.CharField(
        max_length=50, blank=True, help_text="Blank for a credit note raised by hand in Khaos."
    )
    issued_on = models.DateField()
    net = models.DecimalField(max_digits=12, decimal_places=2)
    tax = models.DecimalField(max_digits=12, decimal_places=2)
    gross = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    source = models.ForeignKey(
        CreditNoteImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    # The match: one credit note per return posting.
    posting = models.OneToOneField(
        "returns_hub.Posting",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_note",
    )
    match_method = models.CharField(max_length=20, choices=MatchMethod.choices, blank=True)
    # The matched posting's platform, set with the match (blank while unmatched): the
    # period's "confirmed" figure and credit_note_differs group by it without joining
    # each note to its posting, return and connection.
    platform = models.CharField(max_length=32, blank=True, editable=False)
    matched_by = models.CharField(
        max_length=150, blank=True, help_text="The user's name, or the task that matched it."
    )
    matched_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    matched_at = models.DateTimeField(null=True, blank=True)
    expected_credit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The posting's expected credit when matched.",
    )
    difference = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Gross less the expected credit; empty when unmatched or in another currency.",
    )
    unmatched_reason = models.CharField(max_length=255, blank=True)
    # The difference explained, where the return's data allows; the rest is ``other``.
    difference_tax = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    difference_discount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    difference_shipping = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    difference_fees = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    difference_other = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [
            models.Index(fields=["associated_ref"], name="credit_note_ref"),
            models.Index(fields=["issued_on"], name="credit_note_issued_on"),
            # A period's matched notes (the "confirmed" figure, credit_note_differs, the
            # daily chart) from this index alone.
            models.Index(
                fields=["issued_on"],
                include=["gross", "currency", "platform", "difference"],
                condition=models.Q(posting__isnull=False),
                name="credit_note_matched_on",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(posting__isnull=True, match_method="")
                | models.Q(posting__isnull=False, matched_at__isnull=False)
                & ~models.Q(match_method=""),
                name="credit_note_match_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_matched(self) -> bool:
        return self.posting_id is not None
