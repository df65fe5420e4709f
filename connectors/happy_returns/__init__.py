"""Happy Returns."""

from connectors.base.connector import Connector
from connectors.happy_returns import parser, webhooks, writeback
from connectors.happy_returns.client import HappyReturnsClient
from connectors.happy_returns.simulator import HappyReturnsDialect
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="happy-returns",
        label="Happy Returns",
        ref_prefix="HR",
        default_policy=PostingPolicy.ON_INSPECTION,
        writes_back=True,
    ),
    webhooks=webhooks.dialect,
    simulator=HappyReturnsDialect,
    client=HappyReturnsClient,
    parsers={
        "return.asn": parser.parse_return_asn,
        "return.label.update": parser.parse_label_update,
        "outbound_shipment.asn": parser.parse_outbound_shipment,
    },
    writer=writeback.writer,
)
