"""Happy Returns."""

from connectors.base.connector import Connector
from connectors.happy_returns import webhooks
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec

connector = Connector(
    spec=PlatformSpec(
        slug="happy-returns",
        label="Happy Returns",
        ref_prefix="HR",
        default_policy=PostingPolicy.ON_INSPECTION,
    ),
    webhooks=webhooks.dialect,
    # Deliveries of these topics are kept until this connector's parser lands.
    pending_topics=webhooks.TOPICS,
)
