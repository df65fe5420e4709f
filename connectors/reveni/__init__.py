"""Reveni."""

from connectors.base.connector import Connector
from connectors.reveni import parser, webhooks
from connectors.reveni.client import ReveniClient
from connectors.reveni.simulator import ReveniDialect
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="reveni",
        label="Reveni",
        ref_prefix="REV",
        default_policy=PostingPolicy.ON_REFUND_UNPROCESSED,
    ),
    webhooks=webhooks.dialect,
    simulator=ReveniDialect,
    client=ReveniClient,
    parsers={topic: parser.parse for topic in webhooks.TOPICS},
)
