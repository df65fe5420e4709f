"""Helpers for tests that start the hub as `make run` does, in processes of their own."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FreshDatabase:
    name: str
    url: str

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(_libpq(self.url)) as conn:
            return conn.execute(sql).fetchall()


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@pytest.fixture
def fresh_database() -> FreshDatabase:
    """An EMPTY database beside the test database, on the same server, dropped after."""
    server = urlsplit(database_url())
    name = f"hub_fresh_{uuid.uuid4().hex[:12]}"
    admin = _libpq(urlunsplit(server._replace(path="/postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield FreshDatabase(name, urlunsplit(server._replace(path=f"/{name}")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# One worker and plain logs keep the start quick and the output readable; unbuffered,
# so a test can wait for a line while the command still runs.
QUIET = {"Q_WORKERS": "1", "LOG_FORMAT": "plain", "PYTHONUNBUFFERED": "1"}


def start_hub(port: int, env: dict, *args: str) -> subprocess.Popen:
    """`make run`'s command in a process of its own, its output line by line."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_hub", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, **QUIET, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(hub: subprocess.Popen, port: int, seconds: float = 90) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and hub.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("the web server did not start")


def wait_for_line(hub: subprocess.Popen, text: str, seconds: float = 60) -> list[str]:
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = hub.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def stop_hub(hub: subprocess.Popen, signum: int = signal.SIGTERM) -> str:
    if hub.poll() is None:
        hub.send_signal(signum)
    try:
        return hub.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        hub.kill()
        return hub.communicate()[0] + "\n(killed: it did not stop within 60 s)"
