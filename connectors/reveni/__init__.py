"""Reveni."""

from connectors.base.connector import Connector
from connectors.reveni import webhooks
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
    # Deliveries of these topics are kept until this connector's parser lands.
    pending_topics=webhooks.TOPICS,
)
