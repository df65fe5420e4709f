"""After a Khaos outage every waiting document is overdue at once: the deadline check flags
them a batch to a transaction, in a handful of queries, and never waits on (so never
deadlocks with) rows another worker holds: those are flagged by a later call."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from returns_hub import tasks
from returns_hub.choices import ExceptionKind, ExceptionStatus
from returns_hub.models import ExceptionCase, Posting
from returns_hub.services import postings
from returns_hub.services.generate import generate
from returns_hub.services.locks import lock_return

UNCONFIRMED = ExceptionKind.POSTING_UNCONFIRMED


def overdue(workspace, count: int):
    """``count`` ready documents, each past its confirmation deadline."""
    generate(workspace.connections["rebound"], count, prefix="OVD")
    Posting.objects.update(confirm_by=timezone.now() - timedelta(hours=1))
    return Posting.objects.order_by("pk")


def flagged() -> set[int]:
    return set(ExceptionCase.objects.filter(kind=UNCONFIRMED).values_list("posting_id", flat=True))


@pytest.mark.django_db
def test_a_batch_is_flagged_in_a_handful_of_queries(workspace, django_assert_max_num_queries):
    backlog = overdue(workspace, 40)

    with django_assert_max_num_queries(8):
        assert postings.flag_unconfirmed() == 40

    assert flagged() == set(backlog.values_list("pk", flat=True))
    case = ExceptionCase.objects.select_related("posting").first()
    assert (case.kind, case.owner, case.status, case.occurrences) == (
        UNCONFIRMED,
        "finance",
        ExceptionStatus.OPEN,
        1,
    )
    assert case.cause_key == f"posting_unconfirmed:{case.posting_id}"
    assert (case.return_ref_id, case.connection_id) == (
        case.posting.return_ref_id,
        workspace.connections["rebound"].pk,
    )
    assert f"{case.posting.associated_ref} was made ready on" in case.message
    assert postings.flag_unconfirmed() == 0  # once per posting


@pytest.mark.django_db
def test_the_task_goes_on_a_batch_at_a_time_until_none_is_left(workspace, monkeypatch):
    monkeypatch.setattr(postings, "BATCH", 15)
    overdue(workspace, 40)

    # Tasks run in process here: the follow-up batches run inside the first call.
    assert tasks.flag_unconfirmed_postings() == 15
    assert len(flagged()) == 40


@pytest.mark.django_db(transaction=True)
def test_rows_another_worker_holds_are_skipped_not_waited_for(workspace, monkeypatch):
    monkeypatch.setattr(postings, "SKIPPED_WAIT", 0)
    backlog = list(overdue(workspace, 6))
    worked, served = backlog[0], backlog[1]  # a return being worked; a posting on a page
    holding, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                lock_return(worked.return_ref_id)
                list(Posting.objects.select_for_update().filter(pk=served.pk))
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(10)
        assert postings.flag_unconfirmed() == 4  # had it waited, it would see all 6
    finally:
        release.set()
        thread.join(30)

    assert flagged() == {p.pk for p in backlog[2:]}
    assert postings.flag_unconfirmed() == 2  # let go: flagged by the next call
    assert flagged() == {p.pk for p in backlog}


@pytest.mark.django_db
def test_each_call_goes_on_below_the_lowest_id_the_last_one_looked_at(workspace, monkeypatch):
    monkeypatch.setattr(postings, "BATCH", 15)
    pks = sorted(overdue(workspace, 40).values_list("pk", flat=True), reverse=True)

    assert postings.flag_unconfirmed_below(None) == (15, pks[14])
    assert flagged() == set(pks[:15])
    assert postings.flag_unconfirmed_below(pks[14]) == (15, pks[29])
    assert postings.flag_unconfirmed_below(pks[29]) == (10, pks[39])
    assert postings.flag_unconfirmed_below(pks[39]) == (0, None)
    assert flagged() == set(pks)
