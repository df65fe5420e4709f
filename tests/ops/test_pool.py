"""Django's psycopg pool, as the settings configure it: a burst waits, it never fails."""

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connections

THREADS = 32
POOL = {"min_size": 1, "max_size": 4, "timeout": 20.0}


@pytest.fixture
def pooled(django_db_setup, django_db_blocker):
    """A second alias to the test database with a small pool, named so that
    pg_stat_activity shows exactly its connections. Outside a test transaction:
    threads share nothing but the pool, as a web worker's do."""
    alias, name = "pooled", f"pool-test-{uuid.uuid4().hex[:8]}"
    base = connections["default"].settings_dict
    options = {**base.get("OPTIONS", {}), "pool": POOL, "application_name": name}
    connections.settings[alias] = {**base, "OPTIONS": options, "CONN_MAX_AGE": 0}
    with django_db_blocker.unblock():
        yield alias, name
        connections[alias].close()
        connections[alias].close_pool()
    del connections[alias]
    del connections.settings[alias]


def _watch(params: dict, name: str, stop: threading.Event, peak: list[int]) -> None:
    with psycopg.connect(**params, autocommit=True) as own:
        while not stop.is_set():
            (count,) = own.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]
            ).fetchone()
            peak[0] = max(peak[0], count)
            stop.wait(0.005)


def test_32_threads_through_a_pool_of_4_never_exceed_it_and_never_fail(pooled):
    alias, name = pooled
    params = connections["default"].get_connection_params()
    params = {k: v for k, v in params.items() if k not in ("cursor_factory", "pool")}
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_watch, args=(params, name, stop, peak))
    watcher.start()

    def request(n: int) -> int:
        # As a web request does: queries on this thread's connection, then close,
        # which hands the connection back to the pool.
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.02), %s", [n])
                return cursor.fetchone()[1]
        finally:
            connections[alias].close()

    try:
        with ThreadPoolExecutor(max_workers=THREADS) as executor:
            results = list(executor.map(request, range(THREADS * 4)))
    finally:
        stop.set()
        watcher.join()

    assert results == list(range(THREADS * 4))  # every request answered, none raised
    stats = connections[alias].pool.get_stats()
    assert stats.get("requests_errors", 0) == 0
    assert stats.get("requests_waiting", 0) == 0
    assert stats.get("requests_queued", 0) > 0  # the burst did wait for connections
    assert 1 <= peak[0] <= POOL["max_size"], peak[0]


def test_a_pool_is_closed_before_a_fork_so_no_child_shares_its_sockets(pooled):
    alias, _ = pooled
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
    connections[alias].close()
    pool = connections[alias].pool
    assert not pool.closed

    child = os.fork()  # as the task cluster forks its workers
    if child == 0:
        os._exit(0)  # the child only has to exist
    os.waitpid(child, 0)

    assert pool.closed
    assert connections[alias].pool is not pool  # the next use makes a new one
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
