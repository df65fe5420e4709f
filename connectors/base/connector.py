"""What every connector provides, over one shared shape.

A connector package has ``webhooks.py`` (how deliveries are verified, named
and de-duplicated) and ``parser.py`` (payload → the hub's return events),
and exposes a module-level ``connector``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base.signatures import HmacSignature
from returns_hub.events import ReturnEvent
from returns_hub.platforms import PlatformSpec

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need from the connection a delivery came to.

    Platforms that leave things out (Happy Returns and ReBound send no currency;
    ReBound and Loop's grading send times without a zone) are read with the
    connection's settings, never a guess in the parser.
    """

    currency: str = "GBP"
    time_zone: ZoneInfo = LONDON
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, connection) -> ParseContext:
        return cls(
            currency=connection.currency or "GBP",
            time_zone=connection.zone,
            options=dict(connection.options or {}),
        )


DEFAULT_CONTEXT = ParseContext()

Parser = Callable[[Mapping[str, Any], ParseContext], Sequence[ReturnEvent]]


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class WebhookDialect:
    """How one platform's webhooks look from the outside."""

    signature: HmacSignature
    # payload → topic name ("return.created", "return.asn", …)
    topic: Callable[[Mapping[str, Any]], str]
    # (payload, raw body) → de-duplication key, stable across redeliveries
    dedup_key: Callable[[Mapping[str, Any], bytes], str]


@dataclass(frozen=True)
class Connector:
    spec: PlatformSpec
    webhooks: WebhookDialect
    # topic → parser; topics not listed are stored and marked ignored
    parsers: Mapping[str, Parser] = field(default_factory=dict)
    # the safety-net poll of the platform's API (a PlatformClient subclass)
    client: type | None = None
    # the platform's dialect for the simulator (a Dialect subclass)
    simulator: type | None = None
    # tells the platform the hub's grades (a connectors.base.writeback.Writer)
    writer: Any = None

    def signature_for(self, options: Mapping[str, str]) -> HmacSignature:
        return self.webhooks.signature.with_options(options)

    def handles(self, topic: str) -> bool:
        return topic in self.parsers

    def parse(
        self, topic: str, payload: Mapping[str, Any], context: ParseContext = DEFAULT_CONTEXT
    ) -> Sequence[ReturnEvent]:
        return self.parsers[topic](payload, context)
