"""A poll runs as short tasks, one page each, carrying its cursor; its window is
bounded; ``last_polled_at`` moves only when a whole window is in."""

import json
from datetime import timedelta
from itertools import pairwise

import httpx
import pytest
import respx
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors import polling
from returns_hub.models import InboxDelivery
from tests import factories

pytestmark = pytest.mark.django_db
LIST = "https://loop.example.com/warehouse/return/list"


@pytest.fixture
def conn():
    return factories.PlatformConnectionFactory(
        platform="loop", slug="pages-loop", base_url="https://loop.example.com", api_key="k"
    )


@pytest.fixture
def no_processing(monkeypatch):
    """Deliveries are stored but not processed: these tests are about the poll."""
    monkeypatch.setattr("returns_hub.services.inbox.async_task", lambda *a, **k: None)


@pytest.fixture
def queued(monkeypatch, no_processing):
    """The poll tasks queued, instead of running them."""
    calls = []
    monkeypatch.setattr(polling, "async_task", lambda *a, **k: calls.append(a))
    return calls


def listing(*ids, following=None):
    returns = [{"id": i, "updated_at": "2025-03-05T09:00:00Z"} for i in ids]
    return httpx.Response(200, json={"returns": returns, "nextPageUrl": following})


@respx.mock
def test_each_page_is_its_own_task_and_only_a_whole_poll_moves_last_polled_at(
    conn, queued, django_capture_on_commit_callbacks
):
    pages = [
        listing("5001", following=f"{LIST}?cursor=p2"),
        listing("5002", following=f"{LIST}?cursor=p3"),
        listing("5003"),
    ]
    route = respx.get(url__startswith=LIST).mock(side_effect=pages)
    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_connection(conn.pk) == "1 seen, 1 new"
    assert route.call_count == 1  # one page, not the whole list
    conn.refresh_from_db()
    assert conn.last_polled_at is None
    state = json.loads(conn.poll_cursor)
    assert state["page"] == f"{LIST}?cursor=p2"
    assert queued == [("connectors.polling.poll_page", conn.pk, conn.poll_cursor)]

    # The schedule fires while that page waits in the queue: nothing starts twice.
    assert polling.poll_connection(conn.pk) == "a poll is under way"
    assert route.call_count == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_page(*queued[-1][1:]) == "1 seen, 1 new"
    assert route.calls[1].request.url.params["cursor"] == "p2"
    # The same task again (django-q runs tasks at least once) does nothing.
    assert polling.poll_page(*queued[-2][1:]) == "superseded"
    assert route.call_count == 2
    conn.refresh_from_db()
    assert conn.last_polled_at is None

    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_page(*queued[-1][1:]) == "1 seen, 1 new"
    assert len(queued) == 2  # the last page queued nothing more
    conn.refresh_from_db()
    assert conn.poll_cursor == ""
    assert conn.last_polled_at == parse_datetime(state["until"])
    assert InboxDelivery.objects.filter(connection=conn, source="poll").count() == 3


@respx.mock
def test_a_long_gap_is_polled_in_bounded_windows_one_after_another(
    conn, no_processing, django_capture_on_commit_callbacks
):
    start = timezone.now()
    conn.last_polled_at = start - timedelta(days=3)
    conn.save()
    route = respx.get(url__startswith=LIST).mock(return_value=listing())

    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline (sync)
        polling.poll_connection(conn.pk)

    params = [call.request.url.params for call in route.calls]
    windows = [(parse_datetime(p["from"]), parse_datetime(p["to"])) for p in params]
    assert len(windows) == 4
    assert all(until - since <= polling.MAX_WINDOW for since, until in windows)
    assert windows[0][0] == conn.last_polled_at - polling.OVERLAP
    for (_, previous_end), (since, _) in pairwise(windows):
        assert since == previous_end - polling.OVERLAP  # no gap between windows
    conn.refresh_from_db()
    assert conn.last_polled_at == windows[-1][1] >= start
    assert conn.poll_cursor == ""


@respx.mock
def test_a_failed_page_is_tried_again_from_its_cursor_not_from_the_start(
    conn, queued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("connectors.base.client.time.sleep", lambda s: None)
    pages = [listing("5001", following=f"{LIST}?cursor=p2"), *[httpx.Response(503)] * 5]
    route = respx.get(url__startswith=LIST).mock(side_effect=[*pages, listing("5002")])
    with django_capture_on_commit_callbacks(execute=True):
        polling.poll_connection(conn.pk)
    assert polling.poll_page(*queued[-1][1:]).startswith("failed")
    conn.refresh_from_db()
    assert conn.last_polled_at is None
    assert conn.poll_failing_since is not None and "503" in conn.poll_error
    assert json.loads(conn.poll_cursor)["page"] == f"{LIST}?cursor=p2"

    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_connection(conn.pk) == "1 seen, 1 new"  # the next scheduled run
    assert route.calls[-1].request.url.params["cursor"] == "p2"
    assert route.call_count == 7  # page 1 was not fetched again
    conn.refresh_from_db()
    assert (conn.poll_cursor, conn.poll_error, conn.poll_failing_since) == ("", "", None)
    assert conn.last_polled_at is not None


@respx.mock
def test_clients_answer_one_page_at_a_time(conn):
    from connectors.loop.client import LoopClient

    route = respx.get(url__startswith=LIST).mock(
        side_effect=[listing("5001", following=f"{LIST}?cursor=p2"), listing("5002")]
    )
    now = timezone.now()
    first = LoopClient(conn, sleep=lambda s: None).page(now - timedelta(hours=1), now)
    assert ([p["id"] for _, p in first.changes], first.next) == (["5001"], f"{LIST}?cursor=p2")
    assert route.call_count == 1
    last = LoopClient(conn, sleep=lambda s: None).page(now - timedelta(hours=1), now, first.next)
    assert ([p["id"] for _, p in last.changes], last.next) == (["5002"], "")
