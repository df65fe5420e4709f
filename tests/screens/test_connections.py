"""/connections/: the role matrix, masked secrets, settings through the service, keyset
pages with a fixed query count, and "send test event" through the simulators to a live hub."""

import re
from decimal import Decimal

import httpx
import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import InboxDelivery, KhaosChannel, PlatformConnection, Posting, Return
from tests import factories

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-very-secret-value-1234"
API_KEY = "api-key-never-shown-5678"
PASSWORD = "khaos-pw"  # the factories' channel password


@pytest.fixture
def loop(db):
    return factories.PlatformConnectionFactory(
        platform="loop", slug="hf-loop", webhook_secret=WEBHOOK_SECRET, api_key=API_KEY
    )


@pytest.fixture
def data_client(client, role_users):
    client.force_login(role_users["data"])
    return client


def _settings(connection, **changes) -> dict:
    """The settings form as the page fills it in, with ``changes``."""
    form = {
        "enabled": "on" if connection.enabled else "",
        "name": connection.name,
        "posting_policy": connection.posting_policy,
        "value_tolerance": "" if connection.value_tolerance is None else connection.value_tolerance,
        "settlement_wait_hours": connection.settlement_wait_hours or "",
        "units_not_arrived_days": connection.units_not_arrived_days,
        "poll_minutes": connection.poll_minutes,
        "base_url": connection.base_url,
        "currency": connection.currency,
        "time_zone": connection.time_zone,
        "channel": "",
        "options": "{}",
        "new_webhook_secret": "",
        "new_api_key": "",
        **changes,
    }
    return {name: value for name, value in form.items() if value is not None}


# --- who may see and do what ------------------------------------------------------------

PAGES = ["/connections/", "/connections/hf-loop/", "/connections/channels/hf-khaos/"]
ROLES = {"finance": 403, "warehouse": 403, "cx": 403, "data": 200, "admin": 200, "nobody": 403}


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(("role", "status"), ROLES.items())
def test_only_data_and_admins_see_the_connection_screens(
    client, role_users, loop, url, role, status
):
    client.force_login(role_users[role])
    assert client.get(url).status_code == status


@pytest.mark.parametrize("url", [*PAGES, "/connections/hf-loop/test-event/"])
def test_anyone_not_logged_in_is_sent_to_log_in(client, loop, url):
    response = client.get(url) if "test-event" not in url else client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("role", "status"), ROLES.items())
def test_changing_a_connection_needs_the_change_permission(client, role_users, loop, role, status):
    client.force_login(role_users[role])
    response = client.post("/connections/hf-loop/", _settings(loop))
    assert response.status_code == (302 if status == 200 else 403)


@pytest.mark.parametrize(("role", "status"), ROLES.items())
def test_sending_a_test_event_needs_the_change_permission(
    client, role_users, loop, monkeypatch, role, status
):
    monkeypatch.setattr(httpx, "post", _refused_connection)
    client.force_login(role_users[role])
    response = client.post("/connections/hf-loop/test-event/")
    assert response.status_code == status
    assert not InboxDelivery.objects.exists()


@pytest.mark.parametrize(("role", "status"), {**ROLES, "data": 403, "admin": 302}.items())
def test_only_admins_change_the_khaos_channel(client, role_users, loop, role, status):
    # The matrix gives data view_khaoschannel only; changing it is change_khaoschannel.
    client.force_login(role_users[role])
    response = client.post("/connections/channels/hf-khaos/", _channel_settings())
    assert response.status_code == status


def test_data_sees_the_channel_settings_without_a_form(data_client, loop):
    html = data_client.get("/connections/channels/hf-khaos/").content.decode()
    assert "Only administrators change the channel" in html
    assert '<form method="post" class="settings"' not in html


def test_the_test_event_button_shows_only_to_those_who_may_press_it(client, role_users, loop):
    client.force_login(role_users["data"])
    assert "Send test event" in client.get("/connections/").content.decode()


# --- secrets are never shown ------------------------------------------------------------


def test_no_page_shows_a_secret_in_full(data_client, role_users, client, loop):
    channel = KhaosChannel.objects.get(slug="hf-khaos")
    pages = []
    for url in PAGES:
        pages.append(data_client.get(url).content.decode())
    client.force_login(role_users["admin"])
    for url in PAGES:
        pages.append(client.get(url).content.decode())
    for html in pages:
        for secret in (WEBHOOK_SECRET, API_KEY, channel.password_hash, PASSWORD):
            assert secret not in html
        assert WEBHOOK_SECRET[-5:] not in html  # never more than the last four
    listing = pages[0]
    assert "••••••••1234" in listing and "••••••••5678" in listing
    assert "set (kept as a hash)" in listing


def test_a_refused_form_does_not_echo_the_new_secret(data_client, loop):
    new_secret = "whsec-brand-new-but-refused-0000"
    response = data_client.post(
        "/connections/hf-loop/",
        _settings(loop, currency="pounds", new_webhook_secret=new_secret),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert new_secret not in html and WEBHOOK_SECRET not in html
    assert "ISO 4217" in html
    loop.refresh_from_db()
    assert loop.webhook_secret == WEBHOOK_SECRET


def test_the_test_event_answer_shows_no_secret(data_client, loop, monkeypatch):
    seen = {}

    def answer(url, *, content, headers, timeout):
        seen.update(headers)
        return httpx.Response(202, json={"status": "accepted", "delivery": 7})

    monkeypatch.setattr(httpx, "post", answer)
    html = data_client.post("/connections/hf-loop/test-event/").content.decode()
    assert "Accepted" in html and "/api/v1/inbox/7/" in html
    assert WEBHOOK_SECRET not in html and API_KEY not in html
    assert seen["X-Loop-Signature"] not in html


# --- settings through the service -------------------------------------------------------


def test_data_changes_a_connections_settings(data_client, loop):
    response = data_client.post(
        "/connections/hf-loop/",
        _settings(
            loop,
            posting_policy="on_final_disposition",
            value_tolerance="0.50",
            settlement_wait_hours="0",
            units_not_arrived_days="14",
            poll_minutes="0",
            currency="eur",
            time_zone="UTC",
            options='{"auth": "hmac", "write_back": {"flag": "missing"}}',
            credit_handling_fee="on",
            enabled="",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == "/connections/hf-loop/"
    loop.refresh_from_db()
    assert loop.posting_policy == "on_final_disposition"
    assert loop.value_tolerance == Decimal("0.50")
    assert (loop.settlement_wait_hours, loop.units_not_arrived_days, loop.poll_minutes) == (
        0,
        14,
        0,
    )
    assert (loop.currency, loop.time_zone) == ("EUR", "UTC")
    assert loop.options == {"auth": "hmac", "write_back": {"flag": "missing"}}
    assert loop.credit_handling_fee and not loop.enabled
    assert (loop.webhook_secret, loop.api_key) == (WEBHOOK_SECRET, API_KEY)  # blank keeps
    page = data_client.get(response["Location"]).content.decode()
    assert "Saved the settings of hf-loop." in page


def test_blank_defaults_go_back_to_the_hubs_and_platforms(data_client, loop):
    PlatformConnection.objects.filter(pk=loop.pk).update(
        value_tolerance=Decimal("2.00"), settlement_wait_hours=5
    )
    loop.refresh_from_db()
    data_client.post(
        "/connections/hf-loop/", _settings(loop, value_tolerance="", settlement_wait_hours="")
    )
    loop.refresh_from_db()
    assert loop.value_tolerance is None and loop.settlement_wait_hours is None
    assert loop.settlement_wait == loop.spec.settlement_wait_hours


def test_data_replaces_a_secret_without_seeing_it(data_client, loop):
    new_secret, new_key = "whsec-replaced-by-data-9999", "api-key-replaced-4321"
    response = data_client.post(
        "/connections/hf-loop/",
        _settings(loop, new_webhook_secret=new_secret, new_api_key=new_key),
    )
    assert response.status_code == 302
    loop.refresh_from_db()
    assert (loop.webhook_secret, loop.api_key) == (new_secret, new_key)
    html = data_client.get("/connections/hf-loop/").content.decode()
    assert new_secret not in html and new_key not in html
    assert "••••••••9999" in html and "••••••••4321" in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "not a time zone name"),
        ({"currency": "pounds"}, "currency", "ISO 4217"),
        ({"options": "[1, 2]"}, "options", "JSON object"),
        ({"poll_minutes": "-1"}, "poll_minutes", "greater than or equal to 0"),
        ({"options": "{not json"}, "options", "valid JSON"),
    ],
)
def test_settings_are_refused_as_the_command_refuses_them(
    data_client, loop, changes, field, message
):
    before = PlatformConnection.objects.values().get(pk=loop.pk)
    response = data_client.post("/connections/hf-loop/", _settings(loop, **changes))
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert PlatformConnection.objects.values().get(pk=loop.pk) == before


def _channel_settings(**changes) -> dict:
    form = {
        "name": "",
        "username": "khaos",
        "new_password": "",
        "format": "JSON",
        "default_urn": "",
        "site_id": "1",
        "sales_source": "Web",
        "company_class": "1",
        "source_reference_key": "SourceReference",
        "download_frequency_minutes": "15",
        "batch_size": "1000",
        "confirmation_days": "7",
        **changes,
    }
    return form


def test_an_admin_changes_the_channel_and_replaces_its_password(client, role_users, loop):
    client.force_login(role_users["admin"])
    response = client.post(
        "/connections/channels/hf-khaos/",
        _channel_settings(format="XML", default_urn="WEB00001", new_password="brand-new-pw"),
    )
    assert response.status_code == 302
    channel = KhaosChannel.objects.get(slug="hf-khaos")
    assert (channel.format, channel.default_urn) == ("XML", "WEB00001")
    assert channel.check_credentials("khaos", "brand-new-pw")
    client.post("/connections/channels/hf-khaos/", _channel_settings())
    channel.refresh_from_db()
    assert channel.check_credentials("khaos", "brand-new-pw")  # blank keeps the password
    html = client.get("/connections/channels/hf-khaos/").content.decode()
    assert "brand-new-pw" not in html and channel.password_hash not in html


def test_a_channel_setting_the_service_refuses_is_shown_on_its_field(client, role_users, loop):
    client.force_login(role_users["admin"])
    response = client.post("/connections/channels/hf-khaos/", _channel_settings(batch_size="0"))
    assert response.status_code == 400
    assert response.context["form"].errors["batch_size"]


# --- the list ---------------------------------------------------------------------------


def test_the_list_shows_each_connection_and_the_channel(data_client, loop):
    factories.PlatformConnectionFactory(platform="swap", slug="hf-swap", enabled=False)
    html = data_client.get("/connections/").content.decode()
    assert "http://testserver/webhooks/loop/hf-loop/" in html
    assert "http://testserver/webhooks/swap/hf-swap/" in html
    assert "http://testserver/khaos/hf-khaos/config" in html
    assert "Loop Returns" in html and "Disabled" in html
    assert "On inspection" in html


def test_the_list_shows_the_last_webhook_and_poll(data_client, loop):
    from returns_hub.services import inbox

    inbox.store(loop, source="webhook", topic="t", dedup_key="k1", headers={}, body=b"{}")
    html = data_client.get("/connections/").content.decode()
    assert html.count(">never<") == 1  # the poll; the webhook has a time


def test_the_list_filters_by_platform_and_enabled(data_client, loop):
    factories.PlatformConnectionFactory(platform="swap", slug="hf-swap", enabled=False)
    html = data_client.get("/connections/?platform=swap").content.decode()
    assert "hf-swap" in html and "/webhooks/loop/hf-loop/" not in html
    html = data_client.get("/connections/?enabled=true").content.decode()
    assert "/webhooks/loop/hf-loop/" in html and "/webhooks/swap/hf-swap/" not in html
    assert data_client.get("/connections/?platform=shopify").status_code == 400
    assert data_client.get("/connections/?after=nonsense").status_code == 400


def test_keyset_pages_walk_every_connection_once(data_client, loop):
    for n in range(60):
        factories.PlatformConnectionFactory(platform="reveni", slug=f"rev-{n:02d}")
    seen, url = [], "/connections/"
    while url:
        response = data_client.get(url)
        seen += [row.slug for row in response.context["table"].data]
        url = response.context["next_url"] and "/connections/" + response.context["next_url"]
    assert seen == sorted(PlatformConnection.objects.values_list("slug", flat=True))
    assert len(seen) == 61


def _queries(client, url) -> int:
    with CaptureQueriesContext(db_connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_1_connection_or_30(
    data_client, loop, django_assert_num_queries
):
    one = _queries(data_client, "/connections/")
    for n in range(29):
        factories.PlatformConnectionFactory(platform="swap", slug=f"swap-{n:02d}")
    with django_assert_num_queries(one):
        response = data_client.get("/connections/")
    assert len(response.context["table"].data) == 30


# --- "Send test event" ------------------------------------------------------------------


def _refused_connection(*args, **kwargs):
    raise httpx.ConnectError("connection refused")


def test_a_hub_that_cannot_be_reached_is_said_so(data_client, loop, monkeypatch):
    monkeypatch.setattr(httpx, "post", _refused_connection)
    response = data_client.post("/connections/hf-loop/test-event/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not delivered" in html and "connection refused" in html
    assert "<html" not in html  # htmx gets the answer alone


def test_without_htmx_the_answer_is_a_whole_page(data_client, loop, monkeypatch):
    monkeypatch.setattr(httpx, "post", _refused_connection)
    html = data_client.post("/connections/hf-loop/test-event/").content.decode()
    assert "<html" in html and "Test event to hf-loop" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("platform", ["loop", "happy-returns", "reveni", "swap", "rebound"])
def test_a_test_event_goes_through_the_simulator_to_the_live_hub(
    live_server, client, role_users, workspace, platform
):
    connection = workspace.connections[platform]
    client.force_login(role_users["data"])
    host = live_server.url.removeprefix("http://")
    response = client.post(
        f"/connections/{connection.slug}/test-event/", HTTP_HOST=host, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Accepted</strong> (202)" in html, html
    delivery_id = int(re.search(r"/api/v1/inbox/(\d+)/", html)[1])
    delivery = InboxDelivery.objects.get(pk=delivery_id)
    assert delivery.connection == connection and delivery.source == "webhook"
    reference = re.search(r"TEST-\d+", html)[0]
    assert reference.encode() in bytes(delivery.body)

    # Processed (tasks run at once in the tests): a return marked TEST-, nothing for Khaos.
    test_return = Return.objects.get(connection=connection, order_ref=reference)
    assert not Posting.objects.filter(return_ref=test_return).exists()
    assert not test_return.exchanges.exists()


@pytest.mark.django_db(transaction=True)
def test_a_disabled_connection_refuses_the_test_event(live_server, client, role_users, loop):
    PlatformConnection.objects.filter(pk=loop.pk).update(enabled=False)
    client.force_login(role_users["data"])
    host = live_server.url.removeprefix("http://")
    html = client.post("/connections/hf-loop/test-event/", HTTP_HOST=host).content.decode()
    assert "no enabled connection at this URL" in html and "(404)" in html
    assert not InboxDelivery.objects.exists()
