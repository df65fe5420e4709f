"""`make run`'s command: serves the app and the cluster; Ctrl-C stops everything."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_run_hub_serves_and_stops_everything_on_ctrl_c():
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "Q_WORKERS": "1", "LOG_FORMAT": "plain"}
    hub = subprocess.Popen(
        [sys.executable, "manage.py", "run_hub", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        health = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.5)
        assert health is not None and health.status_code == 200, "the web server did not start"
        login = httpx.get(f"http://127.0.0.1:{port}/admin/", timeout=5)
        assert login.status_code == 302  # served, and behind a login
        children = psutil.Process(hub.pid).children(recursive=True)
        assert len(children) >= 2  # web server and cluster
    finally:
        hub.send_signal(signal.SIGINT)
        output = hub.communicate(timeout=60)[0]
    assert hub.returncode == 0, output
    assert "Stopped." in output
    assert "Demo workspace ready." in output
    assert not [child for child in children if child.is_running() and child.status() != "zombie"]
