"""ReBound Returns."""

from connectors.base.connector import Connector
from connectors.rebound import parser, webhooks
from connectors.rebound.client import ReboundClient
from connectors.rebound.simulator import ReboundDialect
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="rebound",
        label="ReBound Returns",
        ref_prefix="RB",
        default_policy=PostingPolicy.ON_FINAL_DISPOSITION,
    ),
    webhooks=webhooks.dialect,
    simulator=ReboundDialect,
    client=ReboundClient,
    parsers={topic: parser.parse for topic in webhooks.TOPICS},
)
