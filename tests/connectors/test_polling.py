"""Safety-net polls: each platform's client over HTTP (respx), the poll task, and
platform_unreachable opening and closing itself."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from django.utils import timezone
from django_q.models import Schedule

from connectors import polling
from connectors.base.client import PermanentFailure, TemporaryFailure
from connectors.happy_returns.client import HappyReturnsClient
from connectors.loop.client import LoopClient
from connectors.rebound.client import ReboundClient
from connectors.reveni.client import ReveniClient
from connectors.swap.client import SwapClient
from returns_hub.models import ExceptionCase, InboxDelivery, Return
from tests import factories
from tests.conftest import fixture_json

pytestmark = pytest.mark.django_db
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = datetime(2025, 3, 10, tzinfo=UTC)


def connection(platform, **kwargs):
    return factories.PlatformConnectionFactory(
        platform=platform,
        slug=f"poll-{platform}",
        base_url=f"https://{platform}.example.com",
        api_key="key-123",
        **kwargs,
    )


def no_sleep():
    waits = []
    return waits, waits.append


@respx.mock
def test_loop_pages_through_the_list_with_its_cursor():
    conn = connection("loop")
    first = fixture_json("loop/01_return_created_5001.json")
    second = fixture_json("loop/04_return_created_5002_exchange_in_stock.json")
    listing = respx.get("https://loop.example.com/warehouse/return/list").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "returns": [first],
                    "nextPageUrl": "https://loop.example.com/warehouse/return/list?cursor=abc",
                },
            ),
            httpx.Response(200, json={"returns": [second], "nextPageUrl": None}),
        ]
    )
    _waits, sleep = no_sleep()
    changes = list(LoopClient(conn, sleep=sleep).changes(SINCE, UNTIL))
    assert [p["id"] for _, p in changes] == ["5001", "5002"]
    assert {t for t, _ in changes} == {"return.updated"}
    request = listing.calls[0].request
    assert request.headers["X-Authorization"] == "key-123"
    assert request.url.params["filter"] == "updated_at"
    assert request.url.params["from"] == SINCE.isoformat()
    assert listing.calls[1].request.url.params["cursor"] == "abc"


@respx.mock
def test_429_waits_as_retry_after_says_then_succeeds():
    conn = connection("loop")
    respx.get("https://loop.example.com/warehouse/return/list").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json={"returns": [], "nextPageUrl": None}),
        ]
    )
    waits, sleep = no_sleep()
    assert list(LoopClient(conn, sleep=sleep).changes(SINCE, UNTIL)) == []
    assert 7.0 in waits


@respx.mock
def test_permanent_and_temporary_failures_are_told_apart():
    conn = connection("loop")
    route = respx.get("https://loop.example.com/warehouse/return/list")
    route.mock(return_value=httpx.Response(401, json={"error": "missing scope"}))
    waits, sleep = no_sleep()
    with pytest.raises(PermanentFailure, match="401"):
        list(LoopClient(conn, sleep=sleep).changes(SINCE, UNTIL))
    assert route.call_count == 1  # no point asking again

    route.mock(return_value=httpx.Response(503))
    with pytest.raises(TemporaryFailure, match="failed 5 times"):
        list(LoopClient(conn, sleep=sleep).changes(SINCE, UNTIL))
    assert waits[-4:] == [0.5, 1.0, 2.0, 4.0]  # backoff

    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TemporaryFailure, match="ConnectError"):
        list(LoopClient(conn, sleep=sleep).changes(SINCE, UNTIL))


@respx.mock
def test_happy_returns_reads_how_long_to_wait_from_the_body(workspace):
    conn = workspace.connections["happy-returns"]
    conn.base_url, conn.api_key = "https://hr.example.com", "hr-key"
    conn.save()
    factories.ReturnFactory(connection=conn, external_id="hr1", order_ref="1011")
    respx.get("https://hr.example.com/outbound-shipments").mock(
        side_effect=[
            httpx.Response(429, text="Rate limit exceeded; retry in 1500 ms"),
            httpx.Response(
                200, json={"data": [{"palletNumber": "PLT-1", "items": []}], "meta": {"next": None}}
            ),
        ]
    )
    items = fixture_json("happy_returns/02_return_asn_1011_dropped_off.json")["items"]
    lookup = respx.get("https://hr.example.com/returns").mock(
        return_value=httpx.Response(200, json={"typeID": "dropped-off", "items": items})
    )
    waits, sleep = no_sleep()
    changes = list(HappyReturnsClient(conn, sleep=sleep).changes(SINCE, UNTIL))
    assert [t for t, _ in changes] == ["outbound_shipment.asn", "return.asn"]
    assert 1.5 in waits
    assert lookup.calls[0].request.url.params["orderNumber"] == "1011"
    assert lookup.calls[0].request.headers["X-Hr-Apikey"] == "hr-key"


@respx.mock
def test_rebound_rpc_is_form_encoded_with_date_windows():
    conn = connection("rebound", options={"login": "hf"})
    ret = fixture_json("rebound/03_final_disposition_884512_restocked.json")["return"]
    search = respx.post("https://rebound.example.com/returns/search/json").mock(
        return_value=httpx.Response(200, json={"success": {"id": [884512]}})
    )
    respx.post("https://rebound.example.com/returns/get/json").mock(
        return_value=httpx.Response(200, json={"success": ret})
    )
    ((topic, payload),) = ReboundClient(conn, sleep=lambda s: None).changes(SINCE, UNTIL)
    assert (topic, payload["return"]["id"]) == ("final_disposition", 884512)
    form = dict(x.split("=", 1) for x in search.calls[0].request.content.decode().split("&"))
    assert form["login"] == "hf" and form["api_key"] == "key-123"
    request = json.loads(httpx.QueryParams(search.calls[0].request.content.decode())["request"])
    assert request == {"filter": {"date_from": "2025/03/01", "date_to": "2025/03/10"}}

    respx.post("https://rebound.example.com/returns/search/json").mock(
        return_value=httpx.Response(200, json={"error": {"code": 401}})
    )
    with pytest.raises(PermanentFailure):
        list(ReboundClient(conn, sleep=lambda s: None).changes(SINCE, UNTIL))


@respx.mock
@pytest.mark.parametrize(
    ("platform", "client", "path", "cursor"),
    [
        ("reveni", ReveniClient, "/v1/returns", "cursor"),
        ("swap", SwapClient, "/api/returns", "page_info"),
    ],
)
def test_reveni_and_swap_share_one_configurable_list_client(platform, client, path, cursor):
    conn = connection(platform, options={"store_id": "hf-uk-001"})
    ret = {"id": "R1", "return_id": "R1", "updated_at": "2025-03-05T09:00:00Z"}
    route = respx.get(f"https://{platform}.example.com{path}").mock(
        side_effect=[
            httpx.Response(200, json={"returns": [ret], "next_cursor": "n2"}),
            httpx.Response(200, json={"returns": [], "next_cursor": None}),
        ]
    )
    ((topic, payload),) = client(conn, sleep=lambda s: None).changes(SINCE, UNTIL)
    assert topic == "return.updated"
    assert route.calls[1].request.url.params[cursor] == "n2"
    body = payload["data"]["return"] if platform == "reveni" else payload["data"]
    assert body == ret

    conn.options = {"api": {"path": "/v2/returns", "items_key": "data"}}
    moved = respx.get(f"https://{platform}.example.com/v2/returns").mock(
        return_value=httpx.Response(200, json={"data": [ret]})
    )
    assert len(list(client(conn, sleep=lambda s: None).changes(SINCE, UNTIL))) == 1
    assert moved.called


@respx.mock
def test_a_poll_and_a_webhook_of_the_same_change_make_one_event(
    workspace, post_webhook, django_capture_on_commit_callbacks
):
    conn = workspace.connections["loop"]
    conn.base_url, conn.api_key = "https://loop.example.com", "k"
    conn.save()
    closed = fixture_json("loop/03_return_closed_5001_both_graded_refunded.json")
    with django_capture_on_commit_callbacks(execute=True):
        body = json.dumps(closed).encode()
        assert post_webhook(conn, body).status_code == 202
    ret = Return.objects.get(external_id="5001")
    entries = list(ret.timeline.values_list("id", flat=True))

    listed = {k: v for k, v in closed.items() if k not in ("topic", "trigger")}
    respx.get("https://loop.example.com/warehouse/return/list").mock(
        return_value=httpx.Response(200, json={"returns": [listed], "nextPageUrl": None})
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_connection(conn.pk) == "1 seen, 1 new"
    assert InboxDelivery.objects.filter(source="poll", status="processed").count() == 1
    assert list(ret.timeline.values_list("id", flat=True)) == entries  # nothing new
    assert ret.postings.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_connection(conn.pk) == "1 seen, 0 new"  # the same state again


@respx.mock
def test_an_unreachable_platform_becomes_an_exception_that_clears_itself(monkeypatch, settings):
    monkeypatch.setattr("connectors.base.client.time.sleep", lambda s: None)
    conn = connection("loop")
    route = respx.get("https://loop.example.com/warehouse/return/list")
    route.mock(return_value=httpx.Response(502))

    assert polling.poll_connection(conn.pk).startswith("failed")
    assert not ExceptionCase.objects.exists()  # one failure is not an outage
    conn.refresh_from_db()
    conn.poll_failing_since = timezone.now() - timedelta(minutes=31)
    conn.save()
    polling.poll_connection(conn.pk)
    polling.poll_connection(conn.pk)
    case = ExceptionCase.objects.get()
    assert (case.kind, case.owner, case.status) == ("platform_unreachable", "data", "open")
    assert "502" in case.message

    route.mock(return_value=httpx.Response(200, json={"returns": [], "nextPageUrl": None}))
    assert polling.poll_connection(conn.pk) == "0 seen, 0 new"
    case.refresh_from_db()
    conn.refresh_from_db()
    assert case.status == "resolved"
    assert (conn.poll_failing_since, conn.poll_error) == (None, "")
    assert conn.last_polled_at is not None


@respx.mock
def test_refused_credentials_are_reported_at_once():
    conn = connection("loop")
    respx.get("https://loop.example.com/warehouse/return/list").mock(
        return_value=httpx.Response(403)
    )
    assert polling.poll_connection(conn.pk).startswith("refused")
    assert ExceptionCase.objects.get().kind == "platform_unreachable"


def test_each_polling_connection_has_its_schedule_by_name():
    from io import StringIO

    from django.core.management import call_command

    call_command(
        "set_connection",
        "loop",
        "hf-loop",
        "--base-url",
        "https://loop.example.com",
        "--poll-minutes",
        "7",
        stdout=StringIO(),
    )
    schedule = Schedule.objects.get(name="poll-hf-loop")
    assert (schedule.func, schedule.minutes) == ("connectors.polling.poll_connection", 7)
    call_command("set_connection", "loop", "hf-loop", "--poll-minutes", "3", stdout=StringIO())
    assert Schedule.objects.get(name="poll-hf-loop").minutes == 3
    call_command("set_connection", "loop", "hf-loop", "--disabled", stdout=StringIO())
    assert not Schedule.objects.filter(name="poll-hf-loop").exists()
