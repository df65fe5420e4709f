"""Reveni. Signature and payload unverified: hex HMAC-SHA256 by default."""

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

TOPICS = frozenset(
    {
        "return.created",
        "refund.instant_paid",
        "return.inspected",
        "return.cancelled",
        "return.updated",
    }
)


def topic(payload) -> str:
    return str(payload.get("event") or "")


def dedup_key(payload, body: bytes) -> str:
    # Reveni's envelope carries an event id.
    return str(payload.get("event_id") or f"{topic(payload)}:{body_digest(body)}")


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Reveni-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
