"""`make run`: migrate, load the demo once, then serve the web app and the task cluster.

The web app is served by gunicorn (threads, a connection pool per process), as
in production. This process stays attached to the embedded PostgreSQL while its
children run, and Ctrl-C or SIGTERM, at any moment, stops every process it
started and lets it detach.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# Connections besides the web workers': the cluster's sentinel (and scheduler),
# monitor and pusher, then this command and the two simulators.
CLUSTER_OVERHEAD = 3
HUB_OVERHEAD = 3


def web_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """gunicorn as `make run` starts it: HUB_WEB_WORKERS processes of HUB_WEB_THREADS."""
    web = settings.HUB_WEB
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}"]
    command += ["--workers", str(web["WORKERS"])]
    command += ["--worker-class", "gthread", "--threads", str(web["THREADS"])]
    # Below run_hub's own wait, so a stop is never cut short by a kill.
    command += ["--graceful-timeout", "10"]
    # gunicorn's control socket has one path per user: two web nodes on one host would
    # share it, each taking it from the other. Nothing here uses it.
    command += ["--no-control-socket"]
    if web["MAX_REQUESTS"]:
        jitter = max(1, web["MAX_REQUESTS"] // 10)  # workers are not all replaced at once
        command += ["--max-requests", str(web["MAX_REQUESTS"])]
        command += ["--max-requests-jitter", str(jitter)]
    return command


def connection_budget() -> dict[str, int]:
    """The most connections the running hub can hold open at once, by part."""
    web = settings.HUB_WEB
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    # Without a pool, each thread opens its own connection for a request.
    per_worker = pool["max_size"] if pool else web["THREADS"]
    budget = {
        "web": web["WORKERS"] * per_worker,
        "cluster": settings.Q_CLUSTER["workers"] + CLUSTER_OVERHEAD,
        "hub": HUB_OVERHEAD,
    }
    budget["total"] = sum(budget.values())
    return budget


def server_allows() -> int:
    """Connections the server gives this user: max_connections less the superusers' share."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int, "
            "current_setting('superuser_reserved_connections')::int, "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
        most, reserved, superuser = cursor.fetchone()
    return most if superuser else most - reserved


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM while starting up: stop as Ctrl-C does


class Command(BaseCommand):
    help = "Run the hub for development: web server and task cluster, stopped together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
        parser.add_argument("--no-simulators", action="store_true", help="run no simulators")

    def handle(self, *args, **opts):
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.prepare(opts)
            self.serve(opts)
        except KeyboardInterrupt:
            pass  # stopped while starting: nothing was left running
        self.stdout.write("Stopped.")

    def prepare(self, opts) -> None:
        call_command("migrate", interactive=False, verbosity=1, stdout=self.stdout)
        if not opts["no_demo"]:
            call_command("load_demo", scenarios=True, stdout=self.stdout)
        from returns_hub import schedules

        names = schedules.register_all()
        self.stdout.write(f"Schedules: {', '.join(names)}")
        budget, allowed = connection_budget(), server_allows()
        if budget["total"] > allowed:
            raise CommandError(
                f"the hub could hold {budget['total']} database connections ({budget}) but the "
                f"server allows {allowed}: lower HUB_WEB_WORKERS, HUB_DB_POOL_MAX_SIZE or "
                "Q_WORKERS, or raise the server's max_connections"
            )
        self.stdout.write(f"Database connections: at most {budget['total']} of {allowed}.")
        connection.close()
        if connection.pool:
            connection.close_pool()  # this process needs no connection while it waits

    def serve(self, opts) -> None:
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true")}
        manage = [sys.executable, "manage.py"]
        hub = f"http://127.0.0.1:{opts['port']}"
        commands = {"web": web_command(opts["port"]), "cluster": [*manage, "qcluster"]}
        if not opts["no_simulators"]:
            # Khaos polls the hub as the real one would, so returns land in "Khaos".
            khaos = ["khaos_simulator", "--url", hub, "--every", "10", "--push-master"]
            commands["khaos"] = [*manage, *khaos]
            # The platforms send returns in and serve their APIs to the polls.
            commands["platforms"] = [*manage, "platform_simulators", "--url", hub, "--every", "8"]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        children: dict[str, subprocess.Popen] = {}
        try:
            for name, command in commands.items():
                if not stopping:
                    children[name] = subprocess.Popen(command, env=env)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Returns hub on {hub}/ (admin at /admin/, API at /api/docs/). "
                    "Ctrl-C stops everything."
                )
            )
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}")
                        stopping = True
                time.sleep(0.5)
        finally:
            _stop(children.values())


def _stop(children) -> None:
    # SIGTERM, not SIGINT: a process started in the background may have SIGINT
    # ignored, and gunicorn, the cluster and the simulators all stop on SIGTERM.
    children = list(children)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
