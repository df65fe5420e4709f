"""Swap Commerce."""

from connectors.base.connector import Connector
from connectors.swap import parser, webhooks
from connectors.swap.client import SwapClient
from connectors.swap.simulator import SwapDialect
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="swap",
        label="Swap Commerce",
        ref_prefix="SWAP",
        default_policy=PostingPolicy.ON_INSPECTION,
        settlement_wait_hours=24,
    ),
    webhooks=webhooks.dialect,
    simulator=SwapDialect,
    client=SwapClient,
    parsers={topic: parser.parse for topic in webhooks.TOPICS},
)
