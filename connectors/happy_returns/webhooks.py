"""Happy Returns (PayPal). Signature algorithm unverified: hex HMAC-SHA256 by default.

Only the label webhook is documented with a ``webhookType``; the documented
``return.asn`` body has none, so a delivery without a known one is named by
its shape.
"""

from collections.abc import Mapping

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

RETURN_ASN = "return.asn"
LABEL_UPDATE = "return.label.update"
OUTBOUND_SHIPMENT = "outbound_shipment.asn"
TOPICS = frozenset({RETURN_ASN, LABEL_UPDATE, OUTBOUND_SHIPMENT})
RETURN_EVENTS = frozenset({"return_status_updated", "return_dropoff_method_created"})


def topic(payload) -> str:
    declared = payload.get("webhookType")
    if isinstance(declared, str) and declared in TOPICS:
        return declared
    # An unknown webhookType keeps its name (stored and ignored) only when the shape says nothing.
    return by_shape(payload) or str(declared or "")


def by_shape(payload: Mapping) -> str:
    """The topic a body's fields show, or "" when they show none."""
    if "palletNumber" in payload or "poNumber" in payload:
        return OUTBOUND_SHIPMENT
    event = payload.get("event")
    if "labelID" in payload or event == "return_label_update":
        return LABEL_UPDATE
    items = payload.get("items")
    if isinstance(items, list) and any(
        isinstance(item, Mapping) and "happyReturnsReturnID" in item for item in items
    ):
        return RETURN_ASN
    if isinstance(event, str) and event in RETURN_EVENTS:
        return RETURN_ASN  # unusable without items, but a return.asn: invalid, never ignored
    return ""


def dedup_key(payload, body: bytes) -> str:
    # Deliveries are aggregated per order over 60 s and carry no id: a redelivery is
    # the same bytes, and its topic comes from those bytes too.
    return f"{topic(payload)}:{body_digest(body)}"


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Hr-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
