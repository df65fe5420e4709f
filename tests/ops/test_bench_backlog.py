"""The backlog benchmark end to end at a small size, so it cannot rot: gunicorn serving the
strict Khaos simulator, a real task cluster running the deadline checks. Only the drain's
correctness is asserted; its speed is measured by `make bench`."""

import pytest
from django_q.conf import Conf

from benchmarks import backlog as bench
from benchmarks import load
from returns_hub.choices import ExceptionKind, PostingState
from returns_hub.models import ExceptionCase, Posting

SIZE = 300

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_queue(monkeypatch):
    """Tasks queued here go to the cluster the benchmark starts, not run in process."""
    monkeypatch.setattr(Conf, "SYNC", False)


def test_every_waiting_document_is_served_once_imported_once_and_flagged(real_queue):
    connection = bench.workspace()
    assert bench.build(connection, SIZE) == SIZE
    backlog = Posting.objects.filter(channel=connection.khaos_channel)
    assert backlog.filter(state=PostingState.READY, serve_seq__isnull=True).count() == SIZE
    assert not backlog.filter(confirm_by__gte=bench.timezone.now()).exists()  # all overdue

    port = load.free_port()
    web = bench.start_web(port, settings="config.settings.test")
    cluster = None
    try:
        cluster = bench.start_cluster()
        result = bench.drain(f"http://127.0.0.1:{port}", SIZE, limit=120)
        found = bench.problems(result, connection.khaos_channel)
        _, served_again = bench.serve_again(f"http://127.0.0.1:{port}")
    finally:
        for process in (web, cluster):
            if process is not None:
                load.stop(process)

    assert found == []
    assert served_again == SIZE
    assert result.imported == SIZE
    assert len(result.pages) == 2  # one page of 300, then the empty one that ends it
    assert sorted(backlog.values_list("serve_seq", flat=True)) == list(range(1, SIZE + 1))
    assert set(backlog.values_list("state", "download_count").distinct()) == {
        (PostingState.DOWNLOADED, 2)  # once in the drain, once served again after it
    }
    assert set(result.khaos.state.returns) == set(backlog.values_list("associated_ref", flat=True))
    assert result.khaos.state.refused == {}
    cases = ExceptionCase.objects.filter(kind=ExceptionKind.POSTING_UNCONFIRMED)
    assert cases.filter(posting__in=backlog).count() == SIZE
    assert result.deadline_tasks >= 2  # check-deadlines and flag-unconfirmed-postings ran

    profile = bench.explain(connection.khaos_channel)  # what a missed drain is shown with
    assert "function calls" in profile and "profiled run failed" not in profile
    assert cases.filter(posting__in=backlog).count() == SIZE  # rolled back


def test_the_checks_catch_a_drain_that_left_documents_behind(real_queue):
    """problems() is what fails the benchmark: a document never served is named."""
    connection = bench.workspace()
    bench.build(connection, 5)
    result = bench.Drain(size=5)
    result.khaos = bench.KhaosSimulator(
        "http://127.0.0.1:9", bench.CHANNEL, bench.USERNAME, bench.PASSWORD, bench.demo_state()
    )
    result.khaos._download = lambda endpoint: []  # nothing served: no server to ask
    found = bench.problems(result, connection.khaos_channel)
    assert "5 documents still ready (never served)" in found
    assert any("Khaos imported 0: 5 missing" in line for line in found)
    assert any("0 posting_unconfirmed cases" in line for line in found)
