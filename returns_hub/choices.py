"""Every state and code the domain stores, in one place."""

from django.db import models


class PostingPolicy(models.TextChoices):
    ON_INSPECTION = "on_inspection", "On inspection (every unit graded)"
    ON_FINAL_DISPOSITION = "on_final_disposition", "On the platform's final disposition"
    ON_REFUND_UNPROCESSED = "on_refund_unprocessed", "On refund, unprocessed in Khaos"


class ReturnState(models.TextChoices):
    """The physical side of a return."""

    EXPECTED = "expected", "Expected"
    IN_TRANSIT = "in_transit", "In transit"
    PARTLY_RECEIVED = "partly_received", "Partly received"
    RECEIVED = "received", "Received"
    GRADED = "graded", "Graded"
    NOT_RETURNED = "not_returned", "Not returned (kept or donated)"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class MoneyState(models.TextChoices):
    """The money side of a return."""

    PENDING = "pending", "Not yet refunded"
    REFUNDED = "refunded", "Refunded by the platform"
    POSTED = "posted", "Posted to Khaos"
    CONFIRMED = "confirmed", "Confirmed by Khaos"
    NONE = "none", "Nothing to settle"


class UnitState(models.TextChoices):
    EXPECTED = "expected", "Expected"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    GRADED = "graded", "Graded"
    NOT_RETURNED = "not_returned", "Not returned (kept or donated)"
    CANCELLED = "cancelled", "Cancelled"


class ExchangeState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ORDERED = "ordered", "Order posted to Khaos"
    UNAVAILABLE = "unavailable", "Unavailable"
    # Ignored, resolved otherwise or refunded instead: never placed, never re-checked.
    CLOSED = "closed", "Closed without an order"
    CANCELLED = "cancelled", "Cancelled"


class LiabilityKind(models.TextChoices):
    STORE_CREDIT = "store_credit", "Store credit"
    GIFT_CARD = "gift_card", "Gift card"


# Outcomes where the customer keeps or gives away the goods: nothing comes back to
# stock, so their disposition rows must never restock.
NON_RETURN_OUTCOMES = frozenset({"keep_item", "donate"})


class ProcessingType(models.TextChoices):
    RETURN_TO_STOCK = "return_to_stock", "Return to stock"
    WRITE_OFF = "write_off", "Write off"


class StockAction(models.TextChoices):
    RESTOCK = "restock", "Restock"
    QUARANTINE = "quarantine", "Quarantine"
    WRITE_OFF = "write_off", "Write off"


class KhaosFormat(models.TextChoices):
    JSON = "JSON", "JSON"
    XML = "XML", "XML"


class SourceReferenceKey(models.TextChoices):
    """How a returned item names its sales order: the vendor's property table calls the
    field SourceReference; the README's examples still use the type's name."""

    TABLE = "SourceReference", "SourceReference (the property table)"
    EXAMPLES = "SourceReturnReference", "SourceReturnReference (the README's examples)"


class PostingKind(models.TextChoices):
    RETURN = "return", "Customer return (CReturnDownload)"
    EXCHANGE_ORDER = "exchange_order", "Exchange order (OrderDownload)"


class PostingState(models.TextChoices):
    HELD = "held", "Held by an exception"
    READY = "ready", "Ready for Khaos"
    DOWNLOADED = "downloaded", "Downloaded by Khaos"
    CONFIRMED = "confirmed", "Confirmed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    CANCELLED = "cancelled", "Cancelled in Khaos"


class ExceptionKind(models.TextChoices):
    UNKNOWN_SKU = "unknown_sku", "Unknown SKU"
    INACTIVE_SKU = "inactive_sku", "Inactive SKU"
    UNMAPPED_REASON = "unmapped_reason", "Unmapped return reason"
    UNMAPPED_DISPOSITION = "unmapped_disposition", "Unmapped disposition"
    MISSING_SOURCE_ORDER = "missing_source_order", "Missing source order"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    VALUE_MISMATCH = "value_mismatch", "Value mismatch"
    EXCHANGE_UNAVAILABLE = "exchange_unavailable", "Exchange unavailable"
    POSTING_UNCONFIRMED = "posting_unconfirmed", "Posting unconfirmed"
    INVALID_PAYLOAD = "invalid_payload", "Invalid payload"
    PLATFORM_UNREACHABLE = "platform_unreachable", "Platform unreachable"
    INCOMPLETE_ADDRESS = "incomplete_address", "Incomplete address"
    CHANNEL_INCOMPLETE = "channel_incomplete", "Khaos channel incomplete"
    SETTLEMENT_MISSING = "settlement_missing", "Settlement missing"
    UNITS_NOT_ARRIVED = "units_not_arrived", "Units not arrived"
    EXCHANGE_CANCELLED = "exchange_cancelled", "Exchange cancelled in Khaos"


class Team(models.TextChoices):
    """The teams (Django groups) that own exceptions and use the hub."""

    DATA = "data", "Data"
    WAREHOUSE = "warehouse", "Warehouse"
    CX = "cx", "Customer experience"
    FINANCE = "finance", "Finance"


EXCEPTION_OWNERS: dict[str, str] = {
    ExceptionKind.UNKNOWN_SKU: Team.DATA,
    ExceptionKind.INACTIVE_SKU: Team.DATA,
    ExceptionKind.UNMAPPED_REASON: Team.DATA,
    ExceptionKind.INVALID_PAYLOAD: Team.DATA,
    ExceptionKind.PLATFORM_UNREACHABLE: Team.DATA,
    ExceptionKind.CHANNEL_INCOMPLETE: Team.DATA,
    ExceptionKind.UNMAPPED_DISPOSITION: Team.WAREHOUSE,
    ExceptionKind.UNITS_NOT_ARRIVED: Team.WAREHOUSE,
    ExceptionKind.MISSING_SOURCE_ORDER: Team.CX,
    ExceptionKind.UNKNOWN_CUSTOMER: Team.CX,
    ExceptionKind.EXCHANGE_UNAVAILABLE: Team.CX,
    ExceptionKind.INCOMPLETE_ADDRESS: Team.CX,
    ExceptionKind.EXCHANGE_CANCELLED: Team.CX,
    ExceptionKind.VALUE_MISMATCH: Team.FINANCE,
    ExceptionKind.POSTING_UNCONFIRMED: Team.FINANCE,
    ExceptionKind.SETTLEMENT_MISSING: Team.FINANCE,
}


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"


class InboxSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    POLL = "poll", "Poll"


class InboxStatus(models.TextChoices):
    RECEIVED = "received", "Received, not yet processed"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (topic not used)"
    INVALID = "invalid", "Invalid payload"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Failed too often"


class Cause(models.TextChoices):
    """Who or what caused a timeline entry."""

    PLATFORM = "platform", "Platform event"
    USER = "user", "User"
    TASK = "task", "Task"
    KHAOS = "khaos", "Khaos Control"
