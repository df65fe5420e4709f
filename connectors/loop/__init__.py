"""Loop Returns (https://docs.loopreturns.com)."""

from connectors.base.connector import Connector
from connectors.loop import parser, webhooks, writeback
from connectors.loop.client import LoopClient
from connectors.loop.simulator import LoopDialect
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="loop",
        label="Loop Returns",
        ref_prefix="LOOP",
        default_policy=PostingPolicy.ON_INSPECTION,
        settlement_wait_hours=24,
        writes_back=True,
    ),
    webhooks=webhooks.dialect,
    simulator=LoopDialect,
    client=LoopClient,
    parsers={trigger: parser.parse_return for trigger in webhooks.RETURN_TRIGGERS},
    writer=writeback.writer,
)
