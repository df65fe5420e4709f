"""`make run`: migrate, load the demo once, then serve the web app and the task cluster.

This process stays attached to the embedded PostgreSQL while its children run,
and Ctrl-C (or SIGTERM) stops every process it started.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the hub for development: web server and task cluster, stopped together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
        parser.add_argument("--no-simulators", action="store_true", help="run no simulators")

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=1, stdout=self.stdout)
        if not opts["no_demo"]:
            call_command("load_demo", stdout=self.stdout)
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true")}
        manage = [sys.executable, "manage.py"]
        commands = {
            "web": [*manage, "runserver", f"127.0.0.1:{opts['port']}", "--noreload"],
            "cluster": [*manage, "qcluster"],
        }
        if not opts["no_simulators"]:
            # Khaos polls the hub as the real one would, so returns land in "Khaos".
            commands["khaos"] = [*manage, "khaos_simulator", "--url",
                                 f"http://127.0.0.1:{opts['port']}", "--every", "10",
                                 "--push-master"]  # fmt: skip
            # The platforms send returns in and serve their APIs to the polls.
            hub = f"http://127.0.0.1:{opts['port']}"
            commands["platforms"] = [*manage, "platform_simulators", "--url", hub, "--every", "8"]
        children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        self.stdout.write(
            self.style.SUCCESS(
                f"Returns hub on http://127.0.0.1:{opts['port']}/ (admin at /admin/, API at "
                "/api/docs/). Ctrl-C stops everything."
            )
        )
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}")
                        stopping = True
                time.sleep(0.5)
        finally:
            # SIGTERM, not SIGINT: a process started in the background may have
            # SIGINT ignored, and both the server and the cluster stop on SIGTERM.
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            self.stdout.write("Stopped.")
