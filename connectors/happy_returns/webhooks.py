"""Happy Returns (PayPal). Signature algorithm unverified: hex HMAC-SHA256 by default."""

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature


def topic(payload) -> str:
    return str(payload.get("webhookType") or "")


def dedup_key(payload, body: bytes) -> str:
    # Deliveries are aggregated per order over 60 s and carry no id.
    return f"{topic(payload)}:{body_digest(body)}"


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Hr-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
