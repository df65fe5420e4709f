"""A pooled connection the server dropped (PostgreSQL restarted) is replaced before it is
lent: the next request works. Before CONN_HEALTH_CHECKS the soak saw the first request
on each stale pooled connection after a restart answered 500."""

import uuid

import pytest
from django.db import connections


@pytest.fixture
def pooled(django_db_setup, django_db_blocker):
    """A second alias to the test database with a pool of one, as the settings make it."""
    alias = "pooled-restart"
    base = connections["default"].settings_dict
    name = f"pool-restart-{uuid.uuid4().hex[:8]}"
    pool = {"min_size": 1, "max_size": 1, "timeout": 10.0}
    options = {**base.get("OPTIONS", {}), "pool": pool, "application_name": name}
    connections.settings[alias] = {**base, "OPTIONS": options, "CONN_MAX_AGE": 0}
    with django_db_blocker.unblock():
        yield alias
        connections[alias].close()
        connections[alias].close_pool()
    del connections[alias]
    del connections.settings[alias]


def test_the_settings_check_pooled_connections(settings):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_a_pooled_connection_the_server_dropped_is_not_lent(pooled):
    db = connections[pooled]
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    db.close()  # back to the pool, still open as far as the pool knows

    # What a restart does to every connection: the server ends it.
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (again,) = cursor.fetchone()
    assert again != pid
