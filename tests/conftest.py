import base64
import json
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from rest_framework.test import APIClient

from connectors import registry
from returns_hub.choices import Team
from tests import factories

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def fixture_json(relative: str):
    return json.loads(fixture_bytes(relative))


# Each platform's folder of fixture webhooks, under tests/fixtures.
PLATFORM_FOLDERS = {
    "loop": "loop",
    "happy-returns": "happy_returns",
    "reveni": "reveni",
    "swap": "swap",
    "rebound": "rebound",
}


def fixture_webhooks(platform: str) -> list[Path]:
    """The platform's fixture webhook bodies, in the order they are sent."""
    return sorted((FIXTURES / PLATFORM_FOLDERS[platform]).glob("*.json"))


def send_webhook(base_url: str, connection, body: bytes) -> httpx.Response:
    """POST ``body`` to a live hub's webhook URL for ``connection``, signed with its secret
    as the platform signs it."""
    signature = registry.get(connection.platform).signature_for(connection.options)
    return httpx.post(
        f"{base_url}/webhooks/{connection.platform}/{connection.slug}/",
        content=body,
        timeout=30,
        headers={
            "Content-Type": "application/json",
            signature.header: signature.compute(connection.webhook_secret, body),
        },
    )


def khaos_basic(user: str = "khaos", password: str = "khaos-pw") -> dict:
    """The test client's Basic auth header for the Khaos channel (the factories' password)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@contextmanager
def sql_log():
    """Every statement sent (the test client's requests reset Django's own query log)."""
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with db_connection.execute_wrapper(record):
        yield seen


def database_url() -> str:
    """A URL to the database the tests use, for processes the tests start."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") + (f":{db['PORT']}" if db["PORT"] else "")
    return f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{host}/{db['NAME']}"


@pytest.fixture
def role_users(db):
    """One user per team, plus a superuser and a user in no team."""
    users = {}
    for team in Team.values:
        user = factories.UserFactory(username=f"{team}-user")
        user.groups.add(Group.objects.get(name=team))
        users[team] = user
    users["admin"] = factories.UserFactory(username="admin-user", is_superuser=True, is_staff=True)
    users["nobody"] = factories.UserFactory(username="nobody-user")
    return users


@pytest.fixture
def api_client_for(role_users):
    def make(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(role_users[role])
        return client

    return make


@pytest.fixture
def loop_connection(db):
    return factories.PlatformConnectionFactory(platform="loop", slug="hf-loop")


@pytest.fixture
def post_webhook(client):
    """POST a body to a connection's webhook URL, signed with its secret."""

    def post(connection, body: bytes, *, secret: str | None = None, headers=None):
        signature = registry.get(connection.platform).signature_for(connection.options)
        signed = {signature.header: signature.compute(secret or connection.webhook_secret, body)}
        extra = {
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in {**signed, **(headers or {})}.items()
        }
        return client.post(
            f"/webhooks/{connection.platform}/{connection.slug}/",
            data=body,
            content_type="application/json",
            **extra,
        )

    return post


@pytest.fixture
def workspace(db):
    """The fixtures' retailer: product master, stock, mapping tables, a channel at
    site 1 with no default URN, and one connection per platform with its default policy."""
    import tablib

    from returns_hub.resources import MAPPING_FILES, MAPPING_RESOURCES
    from returns_hub.services.products import apply_stock_status, apply_stock_upload

    channel = factories.KhaosChannelFactory(slug="hf", site_id=1, default_urn="")
    connections = {}
    for platform in ("loop", "happy-returns", "reveni", "swap", "rebound"):
        connections[platform] = factories.PlatformConnectionFactory(
            platform=platform,
            slug=f"hf-{platform}",
            posting_policy=registry.get(platform).spec.default_policy,
            khaos_channel=channel,
        )
    apply_stock_upload(fixture_json("khaos/stock_upload_previous.json"))
    apply_stock_upload(fixture_json("khaos/stock_upload.json"))
    apply_stock_status(fixture_json("khaos/stock_status_upload.json"))
    for table, name in MAPPING_FILES:
        dataset = tablib.Dataset().load((FIXTURES / "mappings" / name).read_text(), format="csv")
        result = MAPPING_RESOURCES[table]().import_data(dataset, raise_errors=True)
        assert not result.has_validation_errors()
    return type("Workspace", (), {"channel": channel, "connections": connections})


@pytest.fixture(autouse=True)
def kept_files(settings, tmp_path):
    """Kept uploads and month-end packs go to the test's own folder, not the workspace's."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _no_failed_khaos_sign_ins():
    """Failed Khaos sign-ins are throttled per address (in the cache, which outlives a
    test): each test starts with none counted against the test client's address."""
    from connectors.khaos.views import forget_failures

    forget_failures("127.0.0.1")
