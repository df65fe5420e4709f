"""HMAC signatures over the raw body, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace

ENCODINGS = ("base64", "hex")


@dataclass(frozen=True)
class HmacSignature:
    """HMAC-SHA256 of the raw body, sent in ``header`` as base64 or hex."""

    header: str
    encoding: str = "hex"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"signature encoding must be one of {ENCODINGS}, not {self.encoding!r}"
            )

    def with_options(self, options: Mapping[str, str]) -> HmacSignature:
        """Where a platform's scheme is unverified, a connection may override it."""
        return replace(
            self,
            header=options.get("signature_header") or self.header,
            encoding=options.get("signature_encoding") or self.encoding,
        )

    def compute(self, secret: str, body: bytes) -> str:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if self.encoding == "base64":
            return base64.b64encode(digest).decode()
        return digest.hex()

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        if not secret:
            return False  # a connection without a secret accepts nothing
        sent = (headers.get(self.header) or "").strip()
        if not sent:
            return False
        expected = self.compute(secret, body)
        if self.encoding == "hex":
            sent = sent.lower()
        return hmac.compare_digest(sent.encode(), expected.encode())
