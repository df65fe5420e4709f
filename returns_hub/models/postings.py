from django.conf import settings
from django.db import models

from returns_hub import platforms
from returns_hub.choices import PostingKind, PostingState


class Posting(models.Model):
    """One Khaos document (a customer return or an exchange order), in the outbox.

    The AssociatedRef is fixed when the row is made and is unique per channel
    and kind; once Khaos has downloaded the payload it is never rebuilt, so a
    re-download serves the same document.
    """

    # Empty only while held: a connection with no channel holds its documents
    # (channel_incomplete) until one is set.
    channel = models.ForeignKey(
        "returns_hub.KhaosChannel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postings",
    )
    return_ref = models.ForeignKey(
        "returns_hub.Return", on_delete=models.PROTECT, related_name="postings"
    )
    exchange = models.OneToOneField(
        "returns_hub.ExchangeRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="posting",
    )
    kind = models.CharField(max_length=20, choices=PostingKind.choices)
    # The platform of the return's connection, fixed when the posting is made (a
    # connection's platform never changes): reconciliation groups a month's postings by
    # it without joining each to its return and connection.
    platform = models.CharField(max_length=32, choices=platforms.choices, editable=False)
    associated_ref = models.CharField("AssociatedRef", max_length=50)
    state = models.CharField(max_length=20, choices=PostingState.choices, default=PostingState.HELD)
    # The Khaos document as canonical JSON text (exact decimals), fixed once ready.
    document = models.TextField(blank=True)
    process_return = models.BooleanField(default=True)
    expected_credit = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    first_downloaded_at = models.DateTimeField(null=True, blank=True)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    # Order in which Khaos is served this channel's documents of this kind; a
    # continuation token is the last number served. Given under the channel's
    # row lock when first served, so numbers never appear out of order.
    serve_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_ref = models.CharField(
        max_length=50, blank=True, help_text="Credit note or sales order code in Khaos."
    )
    confirm_by = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=255, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "associated_ref"], name="posting_ref_once"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=PostingKind.EXCHANGE_ORDER, exchange__isnull=True),
                name="exchange_order_has_exchange",
            ),
            models.UniqueConstraint(
                fields=["channel", "kind", "serve_seq"], name="posting_serve_seq_once"
            ),
            # One customer return document per return, whatever races make it.
            models.UniqueConstraint(
                fields=["return_ref"],
                condition=models.Q(kind=PostingKind.RETURN),
                name="one_return_posting",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__isnull=False)
                | models.Q(state__in=[PostingState.HELD, PostingState.WITHDRAWN]),
                name="posting_served_has_channel",
            ),
            # Every creation point sets the platform; one that forgets fails here.
            models.CheckConstraint(condition=~models.Q(platform=""), name="posting_has_platform"),
        ]
        indexes = [
            models.Index(fields=["channel", "kind", "state", "id"], name="posting_download"),
            models.Index(fields=["state", "-id"], name="posting_state_id"),
            models.Index(fields=["associated_ref"], name="posting_associated_ref"),
            models.Index(fields=["confirm_by"], name="posting_confirm_by"),
            models.Index(
                fields=["channel", "kind", "serve_seq"],
                condition=models.Q(serve_seq__isnull=False),
                name="posting_serve_seq",
            ),
            # Reconciliation reads a period's return postings by the day they were offered
            # to Khaos (posted, posted_not_confirmed, refund_differs, the daily chart, the
            # /finance/postings/ list in (ready_at, id) keyset order) from this index alone,
            # platform included; return_ref for refund_differs, which needs the return's
            # settled amounts. ready_at is set once; state changes already rewrite the
            # posting_* indexes.
            models.Index(
                fields=["ready_at", "id"],
                include=["state", "expected_credit", "currency", "platform", "return_ref"],
                condition=models.Q(kind=PostingKind.RETURN, ready_at__isnull=False),
                name="posting_return_ready",
            ),
            # The same by the day the posting was made: the "expected credit" figure and
            # /finance/postings/?figure=expected_credit.
            models.Index(
                fields=["created_at", "id"],
                include=["state", "expected_credit", "currency", "platform"],
                condition=models.Q(kind=PostingKind.RETURN),
                name="posting_return_made",
            ),
            # posted_not_confirmed in keyset (id) order: only the postings Khaos has not yet
            # confirmed, with ready_at in the index, so a page skips the other months'
            # outstanding postings without reading their rows. Postings leave it when
            # confirmed (a state change, which rewrites posting_state_id anyway).
            models.Index(
                fields=["id", "ready_at"],
                condition=models.Q(
                    kind=PostingKind.RETURN,
                    state__in=[PostingState.READY, PostingState.DOWNLOADED],
                ),
                name="posting_outstanding",
            ),
            # The dashboard's last Khaos download of each channel: one index step each.
            models.Index(
                fields=["channel", "-last_downloaded_at"],
                condition=models.Q(last_downloaded_at__isnull=False),
                name="posting_last_download",
            ),
        ]

    def __str__(self) -> str:
        return self.associated_ref

    @property
    def payload(self) -> dict:
        from returns_hub.documents import loads

        return loads(self.document) if self.document else {}
