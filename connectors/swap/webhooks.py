"""Swap Commerce. Signature and payload unverified: hex HMAC-SHA256 by default."""

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

TOPICS = frozenset({"return.created", "return.updated", "return.processed", "return.cancelled"})


def topic(payload) -> str:
    return str(payload.get("event") or "")


def dedup_key(payload, body: bytes) -> str:
    # Swap's envelope carries a webhook event id.
    return str(payload.get("id") or f"{topic(payload)}:{body_digest(body)}")


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Swap-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
