"""The skeleton flow end to end: real HTTP into a live hub, a real task cluster.

A signed webhook is accepted over HTTP before any processing, and a separate
``qcluster`` process, on the ORM broker (and on Redis when one is configured
for the tests), turns it into a return.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connectors import registry
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, Return
from tests.conftest import database_url, fixture_bytes
from tests.ops import nodes

ROOT = Path(__file__).resolve().parents[2]
BROKERS = nodes.BROKERS


@pytest.fixture
def broker(request, monkeypatch) -> dict[str, str]:
    """Queue for real (not in-process) on the chosen broker, here and in the cluster."""
    return nodes.use_broker(request.param, monkeypatch, workers=1)


@pytest.fixture
def cluster(broker):
    env = {
        **os.environ,
        **broker,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "LOG_FORMAT": "plain",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_for(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_webhook_over_http_is_processed_by_a_real_cluster(live_server, loop_connection, cluster):
    body = fixture_bytes("loop/01_return_created_5001.json")
    signature = registry.get("loop").signature_for({})
    url = f"{live_server.url}/webhooks/loop/{loop_connection.slug}/"
    headers = {
        "Content-Type": "application/json",
        signature.header: signature.compute(loop_connection.webhook_secret, body),
    }

    response = httpx.post(url, content=body, headers=headers, timeout=10)

    assert response.status_code == 202
    delivery = InboxDelivery.objects.get()
    processed = _wait_for(
        lambda: InboxDelivery.objects.filter(pk=delivery.pk, status=InboxStatus.PROCESSED).exists()
    )
    if not processed:
        cluster.terminate()
        pytest.fail(f"the cluster did not process the delivery:\n{cluster.communicate()[0]}")
    ret = Return.objects.get(external_id="5001")
    assert ret.units.count() == 2

    duplicate = httpx.post(url, content=body, headers=headers, timeout=10)
    assert duplicate.status_code == 200
    assert InboxDelivery.objects.count() == 1
    assert ret.timeline.filter(kind="platform_return_opened").count() == 1
