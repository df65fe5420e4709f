"""ReBound Returns. Webhook transport and signing unverified: hex HMAC-SHA256 by default."""

import hashlib
from collections.abc import Mapping

import simplejson

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature

TOPICS = frozenset({"return_created", "tracking_updated", "final_disposition"})
NOT_CONTENT = ("label",)  # a base64 shipping label, no part of the return's state


def topic(payload) -> str:
    return str(payload.get("event") or "")


def content_digest(ret: Mapping) -> str:
    """A digest of a return's content alone, whatever order its keys came in."""
    kept = {k: v for k, v in ret.items() if k not in NOT_CONTENT}
    text = simplejson.dumps(kept, sort_keys=True, use_decimal=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def dedup_key(payload, body: bytes) -> str:
    # ReBound's envelope carries no event id, and its ``sent_at`` changes with every
    # sending: the same event about an unchanged return is the same delivery.
    ret = payload.get("return")
    if isinstance(ret, Mapping):
        return f"{topic(payload)}:{content_digest(ret)}"
    return f"{topic(payload)}:{body_digest(body)}"


dialect = WebhookDialect(
    signature=HmacSignature(header="X-Rebound-Signature", encoding="hex"),
    topic=topic,
    dedup_key=dedup_key,
)
