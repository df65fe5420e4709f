"""`make run`'s command: gunicorn and the cluster from an empty database, every
schedule registered, and Ctrl-C or SIGTERM, at any moment, stops everything."""

import io
import json
import os
import signal

import httpx
import psutil
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from config import embedded_postgres
from connectors import schedules as connector_schedules
from returns_hub import schedules
from returns_hub.management.commands.run_hub import connection_budget, server_allows, web_command
from returns_hub.models import PlatformConnection
from tests.conftest import database_url
from tests.ops.conftest import free_port, start_hub, stop_hub, wait_for_line, wait_healthy


def _alive(processes) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.django_db(transaction=True)
def test_run_hub_serves_and_stops_everything_on_ctrl_c():
    port = free_port()
    hub = start_hub(port, {"DATABASE_URL": database_url()})
    try:
        assert wait_healthy(hub, port).status_code == 200
        login = httpx.get(f"http://127.0.0.1:{port}/admin/", timeout=5)
        assert login.status_code == 302  # served, and behind a login
        children = psutil.Process(hub.pid).children(recursive=True)
        assert len(children) >= 2  # web server and cluster
    finally:
        output = stop_hub(hub, signal.SIGINT)
    assert hub.returncode == 0, output
    assert "Stopped." in output
    assert "Demo workspace ready." in output
    assert not _alive(children)


def test_make_run_from_an_empty_database_has_every_schedule_and_stops_on_sigterm(
    fresh_database,
):
    port = free_port()
    hub = start_hub(port, {"DATABASE_URL": fresh_database.url}, "--no-simulators")
    try:
        assert wait_healthy(hub, port).status_code == 200
        children = psutil.Process(hub.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in children]
        registered = {
            name for (name,) in fresh_database.query("SELECT name FROM django_q_schedule")
        }
        polling = fresh_database.query(
            f"SELECT slug FROM {PlatformConnection._meta.db_table} "
            "WHERE enabled AND poll_minutes > 0 AND base_url <> ''"
        )
    finally:
        output = stop_hub(hub, signal.SIGTERM)

    assert polling, "the demo's connections poll"
    wanted = {s["name"] for s in (*schedules.SCHEDULES, *connector_schedules.SCHEDULES)}
    wanted |= {f"poll-{slug}" for (slug,) in polling}
    assert {"sweep-inbox", "check-task-timeouts", "check-deadlines"} <= wanted
    assert wanted - registered == set(), output
    # "python -m gunicorn config.wsgi …", or "gunicorn: master [config.wsgi]" when
    # setproctitle (django-q2 uses it when installed) lets gunicorn name its processes.
    assert any("gunicorn" in c and "config.wsgi" in c for c in commands), commands
    assert not any("runserver" in command for command in commands), commands
    # SIGTERM stops it as Ctrl-C does: every process it started, and itself, cleanly.
    assert hub.returncode == 0, output
    assert "Stopped." in output
    assert not _alive(children)


def test_sigterm_while_migrating_stops_cleanly_and_detaches_from_postgres(fresh_database):
    embedded = not os.environ.get("DATABASE_URL")
    # Without DATABASE_URL the hub attaches to the embedded server, as `make run` does.
    env = {"HUB_DB_NAME": fresh_database.name} if embedded else {"DATABASE_URL": fresh_database.url}
    hub = start_hub(free_port(), env, "--no-simulators")
    try:
        wait_for_line(hub, "Applying")  # the first start of a database: migrating
    finally:
        output = stop_hub(hub, signal.SIGTERM)

    assert hub.returncode == 0, output  # not killed by the signal, but stopped
    assert "Stopped." in output
    if embedded:
        # Detached, so the embedded server stops once its last user has gone.
        handles = embedded_postgres.PGDATA / ".handle_pids.json"
        assert hub.pid not in json.loads(handles.read_text() or "[]")


def test_the_web_server_is_gunicorn_with_a_thread_per_pooled_connection():
    command = web_command(8123)
    assert command[1:4] == ["-m", "gunicorn", "config.wsgi"]
    assert "runserver" not in command
    assert command[command.index("--bind") + 1] == "127.0.0.1:8123"
    assert "--no-control-socket" in command  # two web nodes on one host never share one
    assert command[command.index("--worker-class") + 1] == "gthread"
    threads = int(command[command.index("--threads") + 1])
    assert threads == settings.HUB_WEB["THREADS"]
    # Every thread can hold a connection at once: no request waits on its neighbours.
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] >= threads
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0


@pytest.mark.django_db
def test_the_default_sizes_fit_the_server_with_room_to_spare():
    budget = connection_budget()
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert budget["web"] == settings.HUB_WEB["WORKERS"] * pool["max_size"]
    assert budget["cluster"] == settings.Q_CLUSTER["workers"] + 3
    assert budget["total"] == budget["web"] + budget["cluster"] + budget["hub"]
    # Room left for shells, migrations and a test run beside `make run`.
    assert budget["total"] <= server_allows() // 2


@pytest.mark.django_db
def test_run_hub_refuses_sizes_the_server_cannot_take(settings):
    settings.HUB_WEB = {**settings.HUB_WEB, "WORKERS": 500}
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(CommandError, match="max_connections"):
            call_command("run_hub", "--no-demo", "--no-simulators", stdout=io.StringIO())
    finally:
        signal.signal(signal.SIGTERM, previous)
