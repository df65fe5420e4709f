"""The platform simulators, as the demo and the tests run them."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from connectors import registry
from connectors.base import demo
from connectors.base.simulator import Knobs, PlatformSimulator

# The demo workspace's own connections (load_demo makes them; platform_simulators runs them).
DEMO_PREFIX = "demo-"


def problem_rate(connection) -> float:
    """The share of new returns with a problem: the configured mix for the demo's own
    connections (HUB_SIMULATOR_PROBLEM_RATE), none for any other (a test's)."""
    if connection.slug.startswith(DEMO_PREFIX):
        return settings.HUB["SIMULATOR_PROBLEM_RATE"]
    return 0.0


def for_connection(
    connection, hub_url: str, *, secret: str, api_key: str, knobs: Knobs | None = None
) -> PlatformSimulator:
    """A simulator that signs with the connection's secret and sends to its webhook URL."""
    connector = registry.get(connection.platform)
    knobs = knobs or Knobs()
    if knobs.problem_rate is None:
        knobs = replace(knobs, problem_rate=problem_rate(connection))
    return PlatformSimulator(
        connector.simulator(),
        demo.catalogue(connection.platform),
        webhook_url=f"{hub_url.rstrip('/')}/webhooks/{connection.platform}/{connection.slug}/",
        secret=secret,
        api_key=api_key,
        knobs=knobs,
        signature=connector.signature_for(connection.options),
    )
