"""The hub as production runs it: gunicorn (run_hub's command) and a ``qcluster``
process on the ORM broker, both on the soak's database; and the fault of a cluster
worker killed in the middle of a task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.load import wait_ready

ROOT = Path(__file__).resolve().parent.parent
# Short enough that a task whose worker was killed is handed out again within
# seconds (Q_RETRY), long enough for any one task of the hub (Q_TIMEOUT); a delivery
# whose task failed is swept up after HUB_INBOX_SWEEP_AFTER_SECONDS.
CLUSTER_ENV = {
    "Q_WORKERS": "2",
    "Q_TIMEOUT": "20",
    "Q_RETRY": "30",
    "HUB_INBOX_SWEEP_AFTER_SECONDS": "15",
}


class Hub:
    def __init__(self, database_url: str, port: int, logs: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "plain",
            **CLUSTER_ENV,
        }
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.logs = logs
        self.web: subprocess.Popen | None = None
        self.cluster: subprocess.Popen | None = None
        self.helpers: set[int] = set()  # the cluster's monitor and pusher: never killed

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def start(self) -> None:
        from returns_hub.management.commands.run_hub import web_command

        self.web = self._start("web", [*web_command(self.port), "--log-level", "warning"])
        self.cluster = self._start("cluster", [sys.executable, "manage.py", "qcluster"])
        wait_ready(f"{self.url}/healthz", seconds=90)
        self.helpers = self._helpers()

    def _sentinel(self) -> psutil.Process | None:
        children = psutil.Process(self.cluster.pid).children()
        return children[0] if children else None

    def _helpers(self) -> set[int]:
        """The monitor and the pusher: the sentinel spawns its workers first, then these."""
        deadline = time.monotonic() + 60
        workers = int(CLUSTER_ENV["Q_WORKERS"])
        while time.monotonic() < deadline:
            sentinel = self._sentinel()
            children = sentinel.children() if sentinel else []
            if len(children) >= workers + 2:
                children.sort(key=lambda p: p.create_time())
                return {p.pid for p in children[workers:]}
            time.sleep(0.3)
        raise RuntimeError("the task cluster did not start its workers")

    def workers(self) -> list[psutil.Process]:
        sentinel = self._sentinel()
        if sentinel is None:
            return []
        return [p for p in sentinel.children() if p.pid not in self.helpers]

    def kill_busy_worker(self, seconds: float = 30, settled: float = 0.1) -> str | None:
        """SIGKILL a cluster worker in the middle of a task: what it was running, or None
        if no worker was busy. django-q2 names a busy worker "... processing <task>"
        (setproctitle). A worker must not die holding one of the cluster's locks (the
        task queue's read, or its timer, which the sentinel then waits on for ever): those
        are taken around a task, for microseconds, never inside it. So the victim is one
        seen on the same task for ``settled`` seconds, then stopped (SIGSTOP) and its name
        read once more before the kill: it is inside the task's own work, not taking the
        next one or reporting the last."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            busy = {}
            for process in self.workers():
                try:
                    title = _title(process)
                except psutil.NoSuchProcess:
                    continue
                if " processing " in title:
                    busy[process] = title
            if busy:
                time.sleep(settled)
            for process, seen in busy.items():
                try:
                    process.send_signal(signal.SIGSTOP)
                    if _title(process) == seen:
                        process.send_signal(signal.SIGKILL)
                        return f"{process.pid}: {seen.split(' processing ', 1)[1]}"
                    process.send_signal(signal.SIGCONT)
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.02)
        return None

    def alive(self) -> dict[str, bool]:
        return {
            "web": self.web is not None and self.web.poll() is None,
            "cluster": self.cluster is not None and self.cluster.poll() is None,
        }

    def stop(self) -> None:
        for process in (self.web, self.cluster):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.web, self.cluster):
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _title(process: psutil.Process) -> str:
    return " ".join(process.cmdline())
