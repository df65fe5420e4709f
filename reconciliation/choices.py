"""The reconciliation's vocabularies, shared by its models, services, API and screens."""

from django.db import models


class DifferenceCause(models.TextChoices):
    REFUNDED_NOT_GRADED = "refunded_not_graded", "Refunded, not yet graded or posted (timing)"
    REFUND_WITHOUT_RETURN = "refund_without_return", "Refunded, but the return will not come"
    POSTED_NOT_CONFIRMED = "posted_not_confirmed", "Posted, no credit note yet"
    REFUND_DIFFERS = "refund_differs", "Platform settlement differs from the posted credit"
    CREDIT_NOTE_DIFFERS = "credit_note_differs", "Credit note differs from the expected credit"
    RAISED_BY_HAND = "raised_by_hand", "Credit note raised by hand in Khaos"
    STORE_CREDIT_OUTSTANDING = "store_credit_outstanding", "Store credit or gift card outstanding"
    HANDLED_OUTSIDE = "handled_outside", "Handled outside the hub (exception ignored)"


# The causes that are a difference of value, where a tolerance applies.
VALUE_CAUSES = (DifferenceCause.REFUND_DIFFERS, DifferenceCause.CREDIT_NOTE_DIFFERS)


class ImportStatus(models.TextChoices):
    """A credit note file: read and shown first (preview), then applied, or refused whole."""

    PREVIEWED = "previewed", "Previewed, nothing written"
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"


class PackStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
