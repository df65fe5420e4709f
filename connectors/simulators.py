"""The platform simulators, as the demo and the tests run them."""

from __future__ import annotations

from connectors import registry
from connectors.base import demo
from connectors.base.simulator import Knobs, PlatformSimulator


def for_connection(
    connection, hub_url: str, *, secret: str, api_key: str, knobs: Knobs | None = None
) -> PlatformSimulator:
    """A simulator that signs with the connection's secret and sends to its webhook URL."""
    connector = registry.get(connection.platform)
    return PlatformSimulator(
        connector.simulator(),
        demo.catalogue(connection.platform),
        webhook_url=f"{hub_url.rstrip('/')}/webhooks/{connection.platform}/{connection.slug}/",
        secret=secret,
        api_key=api_key,
        knobs=knobs,
        signature=connector.signature_for(connection.options),
    )
