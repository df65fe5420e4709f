"""Secrets never reach the logs: a webhook's secret, a platform's API key, Khaos's password.

Everything logged at DEBUG while a webhook is received and processed, a Khaos push is
taken with Basic auth (and one refused), and a platform poll fails (refused and
unreachable, the platform echoing the key back) is formatted with the hub's JSON formatter
(the message, every ``extra`` field and any traceback) and searched for each secret.
"""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
import respx

from config.logs import JsonFormatter
from connectors import polling
from returns_hub.models import ExceptionCase
from tests import factories
from tests.conftest import fixture_bytes, khaos_basic

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-live-Q7f2ZpL9vK3mX8rT"
API_KEY = "sk-live-4c9Hn2Wq8Rt5Yp1Zx7Vb"
KHAOS_PASSWORD = "khaos-Secret-9vTq2LmZ"
WRONG_PASSWORD = "guessed-Secret-Bx81"


def logged(caplog) -> str:
    formatter = JsonFormatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} was logged"
        encoded = base64.b64encode(secret.encode()).decode()
        assert encoded not in text, f"{secret!r} was logged base64-encoded"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_receiving_and_processing_a_webhook_logs_no_secret(post_webhook, debug_logs):
    connection = factories.PlatformConnectionFactory(
        platform="loop", slug="hf-loop", webhook_secret=WEBHOOK_SECRET, api_key=API_KEY
    )
    debug_logs.clear()
    body = fixture_bytes("loop/01_return_created_5001.json")
    assert post_webhook(connection, body).status_code == 202
    # A bad signature, and one that is the secret itself sent as the signature.
    assert post_webhook(connection, body, secret="not-the-secret").status_code == 401
    sent_secret = post_webhook(connection, body, headers={"X-Loop-Signature": WEBHOOK_SECRET})
    assert sent_secret.status_code == 401
    text = logged(debug_logs)
    assert "webhook signature rejected" in text  # the refusals were logged, without it
    assert_no_secret(text, WEBHOOK_SECRET, API_KEY)


def test_a_khaos_push_with_basic_auth_logs_no_password(client, debug_logs):
    channel = factories.KhaosChannelFactory(slug="hf")
    channel.set_password(KHAOS_PASSWORD)
    channel.save()
    debug_logs.clear()
    response = client.post(
        "/khaos/hf/stock?format=json",
        fixture_bytes("khaos/stock_upload.json"),
        content_type="application/json",
        **khaos_basic(channel.username, KHAOS_PASSWORD),
    )
    assert response.status_code == 200, response.content
    refused = client.get("/khaos/hf/config", **khaos_basic(channel.username, WRONG_PASSWORD))
    assert refused.status_code == 401
    text = logged(debug_logs)
    assert debug_logs.records, "nothing was logged: the test would prove nothing"
    assert_no_secret(text, KHAOS_PASSWORD, WRONG_PASSWORD)


@respx.mock
@pytest.mark.parametrize("status", [401, 502])
def test_a_failed_poll_logs_no_api_key(monkeypatch, debug_logs, status):
    monkeypatch.setattr("connectors.base.client.time.sleep", lambda seconds: None)
    connection = factories.PlatformConnectionFactory(
        platform="loop",
        slug="poll-loop",
        base_url="https://loop.example.com",
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
    )
    # A platform that echoes the key it was given back in its error.
    respx.get("https://loop.example.com/warehouse/return/list").mock(
        return_value=httpx.Response(status, json={"error": f"bad key {API_KEY}"})
    )
    debug_logs.clear()
    outcome = polling.poll_connection(connection.pk)
    assert outcome.startswith(("refused", "failed")), outcome
    text = logged(debug_logs)
    assert_no_secret(text, API_KEY, WEBHOOK_SECRET)
    # Nor is it kept where people read it: the task's result, the connection's poll error
    # (the connections screen) and the exception opened (every team's exception list).
    connection.refresh_from_db()
    kept = [outcome, connection.poll_error]
    kept += ExceptionCase.objects.values_list("message", flat=True)
    for where in kept:
        assert_no_secret(where, API_KEY)
    if status == 401:
        assert "answered 401" in connection.poll_error and API_KEY[-4:] in connection.poll_error
