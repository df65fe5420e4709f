"""Platform simulators over real HTTP: signed webhooks into a live hub, and the
same returns served to the hub's polls."""

import pytest

from connectors import polling, simulators
from connectors.base.simulator import Knobs
from returns_hub.models import InboxDelivery, Return, TimelineEntry

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PLATFORMS = ["happy-returns", "loop", "rebound", "reveni", "swap"]


def simulator(live_server, workspace, platform, **knobs):
    connection = workspace.connections[platform]
    sim = simulators.for_connection(
        connection,
        live_server.url,
        secret=connection.webhook_secret,
        api_key="sim-key",
        knobs=Knobs(**knobs),
    )
    connection.base_url = sim.serve()
    connection.api_key = "sim-key"
    connection.options = {**connection.options, "requests_per_second": 100}  # a local simulator
    connection.save()
    return sim, connection


@pytest.mark.parametrize("platform", PLATFORMS)
def test_webhooks_then_a_poll_make_each_fact_once(live_server, workspace, platform):
    sim, connection = simulator(
        live_server, workspace, platform, duplicates=True, out_of_order=True, bad_signature_rate=0.1
    )
    try:
        for _ in range(5):
            sim.tick(new=2)
        statuses = {status for status, _ in sim.sent}
        assert statuses <= {200, 202, 401}
        assert 401 in statuses  # the bad signatures were refused
        # Everything refused by signature, missed, or out of order is caught by the poll:
        # after it, every return stands where the platform says (checked below).
        result = polling.poll_connection(connection.pk)
        assert result.endswith("new"), result
        assert Return.objects.filter(connection=connection).count() == len(sim.returns)
        assert not InboxDelivery.objects.exclude(status__in=["processed", "ignored"]).exists()
        again = TimelineEntry.objects.filter(event_key__isnull=False).count()
        polling.poll_connection(connection.pk)
        assert TimelineEntry.objects.filter(event_key__isnull=False).count() == again
        # Refunds decide: Reveni posts at refund; Loop and Swap wait for it after the grade.
        refund_decides = (
            connection.posting_policy == "on_refund_unprocessed" or connection.settlement_wait > 0
        )
        for sim_return in sim.returns.values():
            hub = Return.objects.get(connection=connection, order_ref=sim_return.order)
            if sim_return.ending:
                ending = sim.dialect.endings[sim_return.ending]
                # None: the platform never reports it, so the hub still expects the goods.
                assert hub.state == (ending or "expected"), (sim_return, hub.state)
                assert not hub.postings.exists()
                continue
            if sim_return.stage in ("graded", "refunded"):
                assert hub.state == "graded"
            due = sim_return.stage == "refunded" if refund_decides else hub.state == "graded"
            assert hub.postings.filter(state="ready").exists() == due, (sim_return, hub)
    finally:
        sim.stop()


def test_an_outage_is_seen_by_the_poll(live_server, workspace, monkeypatch):
    monkeypatch.setattr("connectors.base.client.time.sleep", lambda s: None)
    sim, connection = simulator(live_server, workspace, "loop", outage=True)
    try:
        assert polling.poll_connection(connection.pk).startswith("failed")
        sim.knobs.outage = False
        sim.knobs.rate_limit_every = 2
        sim.tick(new=2)
        assert polling.poll_connection(connection.pk).endswith("new")
    finally:
        sim.stop()


def test_the_simulators_command_drives_the_demo_connections(live_server):
    from io import StringIO

    from django.core.management import call_command

    call_command("load_demo", stdout=StringIO())
    from returns_hub.models import PlatformConnection

    # Free ports for this run, in place of the demo's fixed ones.
    PlatformConnection.objects.filter(slug__startswith="demo-").update(
        base_url="http://127.0.0.1:0"
    )
    out = StringIO()
    call_command("platform_simulators", url=live_server.url, every=0, ticks=2, stdout=out)
    text = out.getvalue()
    assert text.count("simulator on http://127.0.0.1:") == 5
    assert "tick 2:" in text
    platforms = set(Return.objects.values_list("connection__platform", flat=True))
    assert platforms == {"loop", "happy-returns", "reveni", "swap", "rebound"}
