"""The five platform simulators, as the demo runs them (one dialect per platform)."""

from __future__ import annotations

from connectors import registry
from connectors.base import demo
from connectors.base.simulator import Dialect, Knobs, PlatformSimulator
from connectors.happy_returns.simulator import HappyReturnsDialect
from connectors.loop.simulator import LoopDialect
from connectors.rebound.simulator import ReboundDialect
from connectors.reveni.simulator import ReveniDialect
from connectors.swap.simulator import SwapDialect

DIALECTS: dict[str, type[Dialect]] = {
    "loop": LoopDialect,
    "happy-returns": HappyReturnsDialect,
    "reveni": ReveniDialect,
    "swap": SwapDialect,
    "rebound": ReboundDialect,
}


def for_connection(connection, hub_url: str, *, secret: str, api_key: str,
                   knobs: Knobs | None = None) -> PlatformSimulator:  # fmt: skip
    """A simulator that signs with the connection's secret and sends to its webhook URL."""
    platform = connection.platform
    return PlatformSimulator(
        DIALECTS[platform](), demo.catalogue(platform),
        webhook_url=f"{hub_url.rstrip('/')}/webhooks/{platform}/{connection.slug}/",
        secret=secret, api_key=api_key, knobs=knobs,
        signature=registry.get(platform).signature_for(connection.options),
    )  # fmt: skip
