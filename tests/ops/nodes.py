"""Nodes of the hub as a deployment runs them, each a process of its own against the
test database: task nodes (``manage.py qcluster``) and web nodes (gunicorn, as
``run_hub.web_command`` starts it). Their output goes to a file, not a pipe, so a
busy node never blocks on a pipe nobody reads, and the test can read it after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django_q.conf import Conf

from tests.conftest import database_url
from tests.ops.conftest import ROOT

REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
# The brokers a task-node test runs on, for ``indirect`` parametrising of its broker fixture.
BROKERS = [
    pytest.param("orm", id="orm-broker"),
    pytest.param(
        "redis",
        id="redis-broker",
        marks=pytest.mark.skipif(
            not REDIS_URL,
            reason="no Redis: set TEST_REDIS_URL or REDIS_URL (make test does when one answers)",
        ),
    ),
]


def use_broker(name: str, monkeypatch, *, workers: int) -> dict[str, str]:
    """Queue for real (not in-process) on broker ``name``, here and in the task nodes:
    the environment to start those with."""
    env = {"Q_WORKERS": str(workers)}
    monkeypatch.setattr(Conf, "SYNC", False)
    if name == "redis":
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
        env["REDIS_URL"] = REDIS_URL
        from django_q.brokers import get_broker

        get_broker().purge_queue()
    return env


# Settings a test passes on: never the test settings (tasks run in-process there).
BASE = {
    "DJANGO_SETTINGS_MODULE": "config.settings.base",
    "LOG_FORMAT": "plain",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Node:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def stop_all(running: list[Node]) -> list[str]:
    """SIGTERM to every node at once, as a deployment stops them; each waited for (killed
    if it outlives 30 s). Their outputs."""
    for node in running:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
    for node in running:
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
    return [node.output() for node in running]


def environment(**extra: str) -> dict[str, str]:
    """The test process's environment pointed at the test database; ``extra`` on top.
    REDIS_URL is dropped unless given: a node on the ORM broker must not find one."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return {**env, **BASE, "DATABASE_URL": database_url(), **extra}


def start(name: str, command: list[str], env: dict[str, str], folder: Path) -> Node:
    log = folder / f"{name}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True
        )
    return Node(name, process, log)


def task_node(name: str, env: dict[str, str], folder: Path) -> Node:
    return start(name, [sys.executable, "manage.py", "qcluster"], env, folder)


def web_node(name: str, port: int, env: dict[str, str], folder: Path, *, workers=2, threads=2):
    """gunicorn with the command `make run` uses, of ``workers`` processes of ``threads``."""
    from django.conf import settings
    from django.test import override_settings

    from returns_hub.management.commands.run_hub import web_command

    web = {**settings.HUB_WEB, "WORKERS": workers, "THREADS": threads}
    with override_settings(HUB_WEB=web):
        command = web_command(port)
    # The node's own settings read the same from its environment (its pool's size).
    sizes = {"HUB_WEB_WORKERS": str(workers), "HUB_WEB_THREADS": str(threads)}
    return start(name, command, {**env, **sizes}, folder)


def wait_until(predicate, seconds: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def wait_serving(node: Node, port: int, seconds: float = 60) -> None:
    def up() -> bool:
        assert node.process.poll() is None, f"{node.name} exited:\n{node.output()}"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_until(up, seconds, every=0.3), f"{node.name} never served:\n{node.output()}"
