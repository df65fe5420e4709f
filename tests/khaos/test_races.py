"""Races on PostgreSQL with real threads, each with its own connection, released together
by a barrier: two deliveries making one return, duplicate webhooks, and a cancellation
against a Khaos download, repeated so the threads interleave in many ways."""

import threading
import time
from collections import Counter

import httpx
import pytest
from django.db import connections

from connectors import registry
from connectors.khaos import channel as khaos
from returns_hub.choices import PostingKind
from returns_hub.choices import PostingState as S
from returns_hub.models import InboxDelivery, Posting, Return, TimelineEntry
from returns_hub.services import ingest
from tests import engine_events as e
from tests.conftest import fixture_bytes

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "eleanor.whitfield@example.com"
GRADE = "back_to_stock"  # Loop's disposition for restock


def race(*jobs):
    """Each job in its own thread, all released at once; their results, in order.

    A job's exception is its result, so one thread failing never hides another's.
    """
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except Exception as error:  # reported by the caller
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread never finished"
    failed = [r for r in results if isinstance(r, Exception)]
    assert not failed, f"racing threads failed: {failed!r}"
    return results


def _keys(ret) -> Counter:
    entries = TimelineEntry.objects.filter(return_ref=ret, event_key__isnull=False)
    return Counter(entries.values_list("event_key", flat=True))


def _unit(uid):
    return e.unit(uid, "HF-TEE-ORG-WHT-M", "24.99", "5.00")


@pytest.mark.parametrize("order", ["1001", ""], ids=["with-order", "no-order-number"])
def test_two_deliveries_making_one_new_return_apply_each_event_once(workspace, order):
    """Two workers each apply a different delivery of one new Loop return: one opens it
    with one unit and grades it (Loop then waits for the refund), the other is a later
    snapshot with both units, the second grade and the refund. Only together is the
    return due, so whichever worker is second posts it, exactly once."""
    loop = workspace.connections["loop"]
    for n in range(10):
        rid = f"LOOP-RACE-{order or 'none'}-{n}"
        one = [e.opened(rid, [_unit(1)], order=order, email=EMAIL), e.graded(rid, 1, GRADE)]
        both = [
            e.opened(rid, [_unit(1), _unit(2)], order=order, email=EMAIL),
            e.received(rid),
            e.graded(rid, 2, GRADE),
            e.refunded(rid, "59.98"),
        ]

        race(lambda one=one: ingest.apply_all(loop, one), lambda b=both: ingest.apply_all(loop, b))

        ret = Return.objects.get(connection=loop, external_id=rid)
        assert _keys(ret) == Counter({event.event_key: 1 for event in one + both})
        assert sorted(ret.units.values_list("external_id", "state")) == [
            ("1", "graded"),
            ("2", "graded"),
        ]
        assert ret.refunded_amount == e.D("59.98")  # the refund counted once
        if order:  # a return with no order number is held (missing_source_order)
            (posting,) = ret.postings.filter(kind=PostingKind.RETURN)
            assert posting.state == S.READY
            assert sum(i["Quantity"] for i in posting.payload["ReturnedItems"]) == 2
        assert ret.postings.filter(kind=PostingKind.RETURN).count() == 1


def test_two_workers_evaluating_one_return_make_one_posting(workspace):
    """Each worker grades the last unit it knows of and evaluates: both may find it due."""
    rebound = workspace.connections["rebound"]
    for n in range(10):
        rid = f"RB-RACE-{n}"
        e.apply_together(rebound, e.opened(rid, [_unit(1), _unit(2)], email=EMAIL))

        race(
            lambda rid=rid: ingest.apply_all(rebound, [e.graded(rid, 1, "restocked")]),
            lambda rid=rid: ingest.apply_all(rebound, [e.graded(rid, 2, "restocked")]),
        )

        ret = Return.objects.get(connection=rebound, external_id=rid)
        (posting,) = ret.postings.all()
        assert posting.state == S.READY
        assert set(_keys(ret).values()) == {1} and len(_keys(ret)) == 3
        made = ret.timeline.filter(kind__in=["posting_created", "posting_ready"])
        assert sorted(made.values_list("kind", flat=True)) == ["posting_created", "posting_ready"]


@pytest.mark.live
def test_duplicate_webhooks_racing_are_one_202_and_one_delivery(live_server, workspace):
    connection = workspace.connections["loop"]
    body = fixture_bytes("loop/01_return_created_5001.json")
    signature = registry.get("loop").signature_for(connection.options)
    headers = {
        "Content-Type": "application/json",
        signature.header: signature.compute(connection.webhook_secret, body),
    }
    url = f"{live_server.url}/webhooks/loop/{connection.slug}/"

    def post():
        with httpx.Client(timeout=60) as client:
            return client.post(url, content=body, headers=headers).status_code

    statuses = race(*[post] * 6)

    assert sorted(statuses) == [200] * 5 + [202]
    assert InboxDelivery.objects.filter(connection=connection).count() == 1
    ret = Return.objects.get(connection=connection, external_id="5001")
    assert ret.timeline.filter(kind="platform_return_opened").count() == 1


def test_a_cancellation_racing_a_khaos_download_is_one_or_the_other(workspace):
    """Khaos pages its returns (by continuation token, or by SpecificIDs) while the
    platform cancels a return whose posting is ready: it is served, and then never
    withdrawn (the timeline says so once), or withdrawn and never in the page."""
    reveni = workspace.connections["reveni"]
    token, outcomes = None, Counter()
    for n in range(30):
        rid = f"REV-RACE-{n}"
        unit = e.unit(1, "HF-TEE-ORG-WHT-M", "24.99", "5.00", reason="size_too_small")
        opened = e.opened(rid, [unit], email=EMAIL)
        ret = e.apply_together(reveni, opened, e.refunded(rid, "29.99"))
        posting = ret.postings.get(state=S.READY)
        specific = posting.associated_ref if n % 3 == 2 else None

        def download(t=token, s=specific, pause=(n % 10) * 0.0005):
            time.sleep(pause)  # the cancellation has more to do first: stagger the page
            return khaos.serve(workspace.channel, "return", token=t, specific=s)

        page, _ = race(download, lambda rid=rid: ingest.apply_all(reveni, [e.cancelled(rid)]))

        token = page.token if specific is None else token
        posting.refresh_from_db()
        ret.refresh_from_db()
        in_page = [d["AssociatedRef"] for d in page.documents].count(posting.associated_ref)
        refused = ret.timeline.filter(kind="posting_not_withdrawn").count()
        assert ret.state == "cancelled"
        if posting.state == S.WITHDRAWN:
            assert (in_page, posting.first_downloaded_at, posting.download_count) == (0, None, 0)
            assert refused == 0
            outcomes["withdrawn"] += 1
        else:
            assert posting.state == S.DOWNLOADED, posting.state
            assert in_page == 1 and posting.first_downloaded_at is not None
            assert refused == 1, "the timeline says once that Khaos already had it"
            outcomes["served"] += 1
    assert sum(outcomes.values()) == 30
    both = Posting.objects.filter(state=S.WITHDRAWN, first_downloaded_at__isnull=False)
    assert not both.exists()
