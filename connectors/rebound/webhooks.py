"""ReBound Returns. Webhook transport and signing unverified: hex HMAC-SHA256 by default."""

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

TOPICS = frozenset({"return_created", "tracking_updated", "final_disposition"})


def topic(payload) -> str:
    return str(payload.get("event") or "")


def dedup_key(payload, body: bytes) -> str:
    # ReBound's envelope carries no event id.
    return f"{topic(payload)}:{body_digest(body)}"


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Rebound-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
