"""A hub with a Khaos channel and one connection per platform, and helpers that
post to it as the platforms and as Khaos do."""

import base64

import pytest

from connectors import registry
from tests import factories

PLATFORMS = ("loop", "happy-returns", "reveni", "swap", "rebound")


def basic(user: str = "khaos", password: str = "khaos-pw") -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def channel(db):
    return factories.KhaosChannelFactory(slug="hf", site_id=1, default_urn="")


@pytest.fixture
def hub(channel):
    connections = {
        platform: factories.PlatformConnectionFactory(
            platform=platform,
            slug=f"hf-{platform}",
            posting_policy=registry.get(platform).spec.default_policy,
            khaos_channel=channel,
        )
        for platform in PLATFORMS
    }
    return type("Hub", (), {"channel": channel, "connections": connections})


@pytest.fixture
def khaos(client, channel):
    """Speaks as Khaos to the hub's channel: ``push(endpoint, body, fmt)``."""

    class Khaos:
        def push(self, endpoint: str, body: bytes, fmt: str = "json", **extra):
            kind = "application/xml" if fmt == "xml" else "application/json"
            url = f"/khaos/hf/{endpoint}?format={fmt}"
            return client.post(url, body, content_type=kind, **{**basic(), **extra})

        def get(self, endpoint: str, **extra):
            return client.get(f"/khaos/hf/{endpoint}", **{**basic(), **extra})

    return Khaos()
