"""Swap Commerce webhooks: authenticated by a JWT or an HMAC, as the connection says.

Swap's help centre says every webhook request carries a JWT signed with the
connection's secret key, and that version-2 webhooks also carry an HMAC
signature. Neither header name nor the token's claims are published, so both
are modelled and configurable in the connection's ``options``:

``auth``
    ``"jwt"`` (the default: every request carries one) or ``"hmac"``.
``jwt_header``
    where the token arrives; default ``Authorization`` (``Bearer <token>``; a
    bare token is read too).
``jwt_body_claim``, ``jwt_require_body``
    a token carrying this claim (default ``body_sha256``, hex SHA-256 of the raw
    body) is checked against the body; without it a token only authenticates the
    sender, unless ``jwt_require_body`` is true.
``jwt_require_exp``, ``jwt_leeway_seconds``
    ``exp`` is required (default true) and honoured, with 30 s of leeway.
``signature_header``, ``signature_encoding``
    for ``"hmac"``: default ``X-Swap-Signature``, hex HMAC-SHA256 of the raw body.

Only HS256 tokens are accepted (never ``none`` or an asymmetric algorithm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base.connector import WebhookDialect, body_digest
from connectors.base.signatures import HmacSignature, JwtSignature

TOPICS = frozenset({"return.created", "return.updated", "return.processed", "return.cancelled"})
AUTH_OPTION = "auth"
DEFAULT_AUTH = "jwt"


@dataclass(frozen=True)
class SwapAuth:
    """Chooses Swap's JWT or HMAC check by the connection's ``auth`` option; what it
    chooses has the interface of HmacSignature (``header``, ``compute``, ``verify``)."""

    jwt: JwtSignature = field(default_factory=JwtSignature)
    hmac: HmacSignature = field(
        default_factory=lambda: HmacSignature(header="X-Swap-Signature", encoding="hex")
    )
    default: str = DEFAULT_AUTH

    def with_options(self, options: Mapping[str, Any]) -> JwtSignature | HmacSignature:
        mode = str(options.get(AUTH_OPTION) or self.default).strip().lower()
        if mode == "jwt":
            return self.jwt.with_options(options)
        if mode == "hmac":
            return self.hmac.with_options(options)
        raise ValueError(f"Swap option {AUTH_OPTION} must be 'jwt' or 'hmac', not {mode!r}")

    # Used as it stands (no connection options), it is the default check.
    @property
    def header(self) -> str:
        return self.with_options({}).header

    def compute(self, secret: str, body: bytes) -> str:
        return self.with_options({}).compute(secret, body)

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        return self.with_options({}).verify(secret, body, headers)


def topic(payload) -> str:
    return str(payload.get("event") or "")


def dedup_key(payload, body: bytes) -> str:
    # Swap's envelope carries a webhook event id.
    return str(payload.get("id") or f"{topic(payload)}:{body_digest(body)}")


dialect = WebhookDialect(
    signature=SwapAuth(),
    topic=topic,
    dedup_key=dedup_key,
)
