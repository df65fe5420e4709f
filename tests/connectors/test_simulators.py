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


# --- the transport faults a soak injects (connectors/base/simulator.py Knobs) -----------


def _returns(connection) -> int:
    return Return.objects.filter(connection=connection).count()


def test_a_sender_that_gives_up_sends_again_later_and_nothing_is_lost(live_server, workspace):
    sim, connection = simulator(live_server, workspace, "loop", give_up_rate=1.0, retry_failed=True)
    try:
        sim.tick(new=6)
        faults = sim.faults
        assert faults.gave_up_mid_body + faults.gave_up_before_answer == 6
        assert faults.gave_up_mid_body and faults.gave_up_before_answer  # both ways
        assert len(sim.pending) == 6 and {status for status, _ in sim.sent} == {0}
        # Half a body is never stored: the signature is over the whole of it.
        assert not InboxDelivery.objects.filter(connection=connection, body=b"").exists()

        sim.knobs.give_up_rate = 0.0
        sim.tick(new=0, advance=False)  # the platform's retry
        assert sim.faults.retried == 6 and sim.pending == []
        assert _returns(connection) == 6
    finally:
        sim.stop()


def test_an_outage_holds_webhooks_and_sends_them_late(live_server, workspace):
    sim, connection = simulator(live_server, workspace, "swap", retry_failed=True)
    try:
        sim.knobs.outage = sim.knobs.hold_webhooks = True
        sim.tick(new=3)
        assert sim.faults.held == 3 and sim.sent == []
        assert _returns(connection) == 0
        assert polling.poll_connection(connection.pk).startswith("failed")
        assert sim.faults.outage_answers >= 1

        sim.knobs.outage = sim.knobs.hold_webhooks = False
        sim.tick(new=0, advance=False)
        assert sim.faults.retried == 3 and sim.finished() is False  # stories go on
        assert _returns(connection) == 3
    finally:
        sim.stop()


def test_a_share_of_webhooks_is_sent_twice_and_taken_once(live_server, workspace):
    sim, connection = simulator(live_server, workspace, "rebound", duplicate_rate=1.0)
    try:
        sim.tick(new=4)
        assert sim.faults.duplicated == 4
        statuses = [status for status, _ in sim.sent]
        assert sorted(statuses) == [200] * 4 + [202] * 4  # the second of each: seen before
        assert _returns(connection) == 4
    finally:
        sim.stop()
