"""/ : the dashboard — who sees it, its fixed query count, stale feeds, and its links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from returns_hub.choices import ExceptionStatus, InboxSource, InboxStatus, PostingState
from returns_hub.models import InboxDelivery, KhaosUpload, PlatformConnection
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["finance", "warehouse", "cx", "data", "admin", "nobody"])
def test_every_logged_in_person_sees_the_dashboard(client, role_users, role):
    client.force_login(role_users[role])
    assert client.get("/").status_code == 200


def test_anyone_not_logged_in_is_sent_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def _delivery(connection, n: int, *, source=InboxSource.WEBHOOK, status=InboxStatus.PROCESSED):
    return InboxDelivery.objects.create(
        connection=connection,
        source=source,
        topic="return.created",
        dedup_key=f"k-{n}",
        body=b"{}",
        status=status,
    )


def _world(rows: int, start: int = 0):
    """``rows`` connections, each with deliveries, a return, a posting and exceptions."""
    channel = factories.KhaosChannelFactory()
    for n in range(start, start + rows):
        connection = factories.PlatformConnectionFactory(khaos_channel=channel)
        _delivery(connection, n)
        _delivery(connection, 1000 + n, status=InboxStatus.FAILED)
        posting = factories.PostingFactory(
            channel=channel,
            return_ref=factories.ReturnFactory(connection=connection),
            state=PostingState.DOWNLOADED,
            last_downloaded_at=timezone.now(),
        )
        factories.ExceptionCaseFactory(return_ref=posting.return_ref)
        factories.ExceptionCaseFactory(
            kind="value_mismatch", cause_key=f"value:{n}", return_ref=posting.return_ref
        )
    KhaosUpload.objects.create(
        channel=channel, endpoint="stock", format="JSON", body=b"{}", status="stored"
    )


def _queries_for(client, django_assert_num_queries, expected: int):
    with django_assert_num_queries(expected):
        assert client.get("/").status_code == 200


def test_the_dashboard_costs_the_same_queries_whatever_is_stored(
    client, role_users, django_assert_num_queries
):
    client.force_login(role_users["data"])
    _world(1)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get("/")
    _world(30, start=1)
    _queries_for(client, django_assert_num_queries, len(one.captured_queries))
    # session, user, the nav's permissions (2), connections, channels, backlog, postings,
    # exceptions, returns per day, postings per day
    assert len(one.captured_queries) <= 11


def test_a_feed_quiet_for_three_poll_intervals_is_red(client, role_users):
    client.force_login(role_users["cx"])
    now = timezone.now()
    live = factories.PlatformConnectionFactory(slug="live-feed", poll_minutes=15)
    PlatformConnection.objects.filter(pk=live.pk).update(last_polled_at=now - timedelta(minutes=10))
    quiet = factories.PlatformConnectionFactory(slug="quiet-feed", poll_minutes=15)
    PlatformConnection.objects.filter(pk=quiet.pk).update(
        last_polled_at=now - timedelta(minutes=50)
    )
    hooked = factories.PlatformConnectionFactory(slug="hooked-feed", poll_minutes=0)
    _delivery(hooked, 1)

    html = client.get("/").content.decode()

    assert 'class="stale" data-connection="quiet-feed"' in html
    assert 'class="" data-connection="live-feed"' in html
    assert 'class="" data-connection="hooked-feed"' in html
    assert "1 feed stale" in html or "2 feeds stale" in html  # the channel may be stale too


def test_every_figure_links_to_the_list_behind_it(client, role_users):
    client.force_login(role_users["finance"])
    ret = factories.ReturnFactory()
    factories.ExceptionCaseFactory(return_ref=ret, kind="unknown_sku", owner="data")
    factories.PostingFactory(return_ref=ret, state=PostingState.HELD)
    _delivery(ret.connection, 1, status=InboxStatus.FAILED)

    response = client.get("/")
    html = response.content.decode()

    owners = {owner.owner: owner for owner in response.context["owners"]}
    assert owners["data"].count == 1
    assert "owner=data" in owners["data"].url and "status=open" in owners["data"].url
    assert "kind=unknown_sku" in owners["data"].kinds[0]["url"]
    assert "/api/v1/postings/?state=held" in html
    assert "/api/v1/inbox/?status=failed" in html
    assert "/api/v1/returns/?created_after=" in html
    held = {state: count for state, _, count, _, _ in response.context["postings"]}
    assert held["held"] == 1


def test_the_chart_is_an_svg_of_fourteen_days(client, role_users):
    client.force_login(role_users["warehouse"])
    factories.PostingFactory()
    response = client.get("/")
    days = response.context["days"]
    assert len(days) == 14
    assert days[-1].day == timezone.localdate()
    assert days[-1].returns == 1 and days[-1].postings == 1
    html = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html
    assert "style=" not in html


def test_closed_exceptions_do_not_count(client, role_users):
    client.force_login(role_users["finance"])
    factories.ExceptionCaseFactory(status=ExceptionStatus.RESOLVED)
    response = client.get("/")
    assert response.context["open_total"] == 0


def test_a_crowded_posting_state_shows_a_bounded_count(client, role_users, monkeypatch):
    """Counting stops at the cap: the dashboard's cost does not grow with confirmed postings."""
    from returns_hub.screens.dashboard import health

    monkeypatch.setattr(health, "POSTING_COUNT_CAP", 2)
    for _ in range(3):
        factories.PostingFactory(state=PostingState.CONFIRMED)
    factories.PostingFactory(state=PostingState.HELD)
    counts = {state: (count, capped) for state, _, count, capped in health.postings_by_state()}
    assert counts[PostingState.CONFIRMED] == (2, True)
    assert counts[PostingState.HELD] == (1, False)
    assert counts[PostingState.READY] == (0, False)
    client.force_login(role_users["data"])
    page = client.get("/").content.decode()
    assert '<span class="figure">2+</span> Confirmed' in page


def test_the_open_exceptions_link_shows_every_teams_cases_it_counted(client, role_users):
    client.force_login(role_users["finance"])
    ret = factories.ReturnFactory()
    counted = {
        factories.ExceptionCaseFactory(return_ref=ret, kind=kind, owner=owner).pk
        for kind, owner in [("unknown_sku", "data"), ("value_mismatch", "finance")]
    }
    response = client.get("/")
    url = response.context["exceptions_url"]
    assert "owner=all" in url and "status=open" in url
    assert response.context["open_total"] == len(counted)
    queue = client.get(url).content.decode()
    # Not only finance's own case, which the queue would open on without an owner.
    assert {int(pk) for pk in re.findall(r'data-case="(\d+)"', queue)} == counted


@pytest.mark.parametrize("role", ["finance", "warehouse", "cx", "data", "admin"])
def test_every_team_that_may_view_a_mapping_table_sees_the_mappings_link(client, role_users, role):
    client.force_login(role_users[role])
    assert '<a href="/mappings/"' in client.get("/").content.decode()
    assert client.get("/mappings/").status_code == 200


def test_someone_in_no_team_sees_no_mappings_link(client, role_users):
    client.force_login(role_users["nobody"])
    assert '<a href="/mappings/"' not in client.get("/").content.decode()
