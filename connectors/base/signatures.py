"""Webhook signatures: HMAC over the raw body, or an HS256 JWT; compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# PyJWT is needed only where a connection verifies JWTs (Swap's default); without
# it, the rest of the hub still starts and a JWT check says what is missing.
try:
    import jwt
except ImportError:  # PyJWT not installed: JwtSignature says so when used
    jwt = None

if jwt is not None and hasattr(jwt, "InsecureKeyLengthWarning"):
    # The secret is the platform's (shown once in its dashboard): its length is not
    # the hub's to choose, so PyJWT's advice about it would only repeat in the logs.
    warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)

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


JWT_ALGORITHM = "HS256"  # the only one accepted: never "none", never an asymmetric one


def _flag(value: Any, default: bool, name: str) -> bool:
    """A yes/no option, as a JSON boolean or the text true/false."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(f"option {name} must be true or false, not {value!r}")


@dataclass(frozen=True)
class JwtSignature:
    """A JWT signed with the connection's secret (HS256 only), sent in ``header``
    as ``Bearer <token>`` (a bare token is read too).

    ``exp`` is honoured (and required unless ``require_exp`` is off), with
    ``leeway`` seconds for clocks that differ. A token carrying ``body_claim``
    (hex SHA-256 of the raw body) is bound to that body and checked; one without
    it only authenticates the sender, unless ``require_body`` refuses it.
    """

    header: str = "Authorization"
    scheme: str = "Bearer"
    body_claim: str = "body_sha256"
    require_body: bool = False
    require_exp: bool = True
    leeway: int = 30
    lifetime: int = 300  # seconds a token made by ``compute`` is valid

    def with_options(self, options: Mapping[str, Any]) -> JwtSignature:
        leeway = options.get("jwt_leeway_seconds")
        try:
            leeway = self.leeway if leeway in (None, "") else int(leeway)
        except (TypeError, ValueError):
            raise ValueError(
                f"option jwt_leeway_seconds must be a whole number, not {leeway!r}"
            ) from None
        if leeway < 0:
            raise ValueError("option jwt_leeway_seconds must be 0 or more")
        return replace(
            self,
            header=options.get("jwt_header") or self.header,
            body_claim=options.get("jwt_body_claim") or self.body_claim,
            require_body=_flag(
                options.get("jwt_require_body"), self.require_body, "jwt_require_body"
            ),
            require_exp=_flag(options.get("jwt_require_exp"), self.require_exp, "jwt_require_exp"),
            leeway=leeway,
        )

    def compute(self, secret: str, body: bytes) -> str:
        """The header value a sender puts on ``body``: a fresh token bound to it."""
        now = int(time.time())
        claims = {
            "iat": now,
            "exp": now + self.lifetime,
            self.body_claim: hashlib.sha256(body).hexdigest(),
        }
        token = _pyjwt().encode(claims, secret, algorithm=JWT_ALGORITHM)
        return f"{self.scheme} {token}" if self.scheme else token

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        if not secret:
            return False  # a connection without a secret accepts nothing
        token = (headers.get(self.header) or "").strip()
        scheme, _, rest = token.partition(" ")
        if rest and scheme.lower() == "bearer":
            token = rest.strip()
        if not token:
            return False
        library = _pyjwt()
        try:
            claims = library.decode(
                token,
                secret,
                algorithms=[JWT_ALGORITHM],
                leeway=self.leeway,
                # The audience is not known for any platform: not checked.
                options={"require": ["exp"] if self.require_exp else [], "verify_aud": False},
            )
        except (library.PyJWTError, ValueError, TypeError):
            return False
        bound = claims.get(self.body_claim)
        if bound is None:
            return not self.require_body
        if not isinstance(bound, str):
            return False
        expected = hashlib.sha256(body).hexdigest()
        return hmac.compare_digest(bound.strip().lower().encode(), expected.encode())


def _pyjwt():
    if jwt is None:
        raise RuntimeError(
            "JWT webhook authentication needs PyJWT: install it (pip install 'PyJWT>=2.8')"
        )
    return jwt
