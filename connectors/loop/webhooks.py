"""Loop Returns webhooks: X-Loop-Signature is base64(HMAC-SHA256(secret, raw body))."""

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

# Triggers Loop sends (topic "return", "label", "restock", "giftcard", …).
RETURN_TRIGGERS = frozenset({"return.created", "return.updated", "return.closed"})
# Stored and ignored. "shipment.processed" (topic "happy.returns.shipment") carries
# only loop_shipment_id and happy_returns_shipment_id: no return, unit, tracking
# or date to act on (Loop's documented body, tests/fixtures/realworld/loop/).
OTHER_TRIGGERS = frozenset(
    {
        "label.created",
        "label.updated",
        "restock.requested",
        "giftcard.requested",
        "shipment.processed",
    }
)


def topic(payload) -> str:
    return str(payload.get("trigger") or payload.get("topic") or "")


def dedup_key(payload, body: bytes) -> str:
    # Loop sends no delivery id; a retry repeats the body byte for byte.
    return f"{topic(payload)}:{payload.get('id', '')}:{body_digest(body)}"


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Loop-Signature", encoding="base64"),
    topic=topic,
    dedup_key=dedup_key,
)
