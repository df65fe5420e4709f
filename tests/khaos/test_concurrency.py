"""Races on PostgreSQL with real threads: each thread its own connection, started together.

A cancellation racing a Khaos download never leaves a posting both withdrawn
and served; two workers on one return make one posting; duplicate webhooks
racing store one delivery.
"""

import threading

import httpx
import pytest
from django.db import connections, transaction

from connectors import registry
from connectors.khaos import channel as khaos
from returns_hub.choices import PostingState
from returns_hub.models import InboxDelivery, Posting, Return, TimelineEntry
from returns_hub.services import ingest
from tests.conftest import fixture_bytes
from tests.engine_events import apply_together, cancelled, graded, opened, refunded, unit

pytestmark = [pytest.mark.django_db(transaction=True)]

EMAIL = "eleanor.whitfield@example.com"


def together(*jobs):
    """Run each job in its own thread, released at once; re-raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def run(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def test_a_cancellation_racing_a_khaos_download_is_one_or_the_other(workspace):
    reveni = workspace.connections["reveni"]
    outcomes = set()
    for n in range(20):
        rid = f"RVN-RACE-{n}"
        ret = apply_together(
            reveni,
            opened(
                rid,
                [unit("r", "HF-TEE-ORG-WHT-M", "24.99", reason="changed_mind")],
                order="1030",
                email=EMAIL,
            ),
            refunded(rid, "24.99"),
        )
        posting = ret.postings.get()
        assert posting.state == PostingState.READY

        page, _ = together(
            lambda: khaos.serve(workspace.channel, "return", token=None, specific=None),
            lambda rid=rid: ingest.apply_all(reveni, [cancelled(rid)]),
        )

        posting.refresh_from_db()
        in_page = posting.document in page.texts
        if posting.state == PostingState.WITHDRAWN:
            assert not in_page and posting.first_downloaded_at is None
            outcomes.add("withdrawn")
        else:
            assert posting.state == PostingState.DOWNLOADED and posting.first_downloaded_at
            assert ret.timeline.filter(kind="posting_not_withdrawn").exists()
            outcomes.add("served")
        assert Return.objects.get(pk=ret.pk).state == "cancelled"
    assert outcomes  # at least one outcome was checked


def test_two_workers_on_one_return_make_one_posting(workspace):
    rb = workspace.connections["rebound"]
    units = [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00"), unit("2", "HF-ACC-SCF-LAM-GRY", "35.00")]
    apply_together(rb, opened("RB-RACE", units, order="1043", email=EMAIL))

    together(
        lambda: ingest.apply_all(rb, [graded("RB-RACE", "1", "restocked")]),
        lambda: ingest.apply_all(rb, [graded("RB-RACE", "2", "restocked")]),
    )

    ret = Return.objects.get(external_id="RB-RACE")
    assert set(ret.units.values_list("state", flat=True)) == {"graded"}
    posting = ret.postings.get()  # exactly one
    assert posting.state == PostingState.READY
    assert posting.payload["ReturnedItems"][0]["Quantity"] == 2
    keys = list(
        TimelineEntry.objects.filter(return_ref=ret, event_key__isnull=False).values_list(
            "event_key", flat=True
        )
    )
    assert len(keys) == len(set(keys)) == 3


def test_a_new_return_opened_by_two_deliveries_at_once_is_one_return(workspace):
    rb = workspace.connections["rebound"]
    event = opened("RB-NEW", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043")

    together(*(lambda: ingest.apply_all(rb, [event]) for _ in range(4)))

    ret = Return.objects.get(external_id="RB-NEW")
    assert ret.units.count() == 1
    assert TimelineEntry.objects.filter(return_ref=ret, kind="platform_return_opened").count() == 1


def test_duplicate_webhooks_racing_store_one_delivery(live_server, workspace):
    connection = workspace.connections["loop"]
    body = fixture_bytes("loop/01_return_created_5001.json")
    signature = registry.get("loop").signature_for(connection.options)
    headers = {
        "Content-Type": "application/json",
        signature.header: signature.compute(connection.webhook_secret, body),
    }
    url = f"{live_server.url}/webhooks/loop/{connection.slug}/"

    statuses = together(
        *(
            lambda: httpx.post(url, content=body, headers=headers, timeout=30).status_code
            for _ in range(8)
        )
    )

    assert sorted(statuses) == [200] * 7 + [202]
    assert InboxDelivery.objects.filter(connection=connection).count() == 1
    with transaction.atomic():
        assert Posting.objects.count() <= 1
