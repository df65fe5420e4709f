"""The embedded PostgreSQL used when ``DATABASE_URL`` is not set.

``pgserver`` runs a real PostgreSQL from a wheel with its data under
``.data/postgres``. Every process that needs it (web server, task cluster,
tests, a shell) attaches to the same server; pgserver counts the attached
processes and stops the server when the last one exits.

Run as a module for operators::

    python -m config.embedded_postgres url     # start if needed, print the URL
    python -m config.embedded_postgres status
    python -m config.embedded_postgres stop    # stop it whoever is attached
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HUB_DATA_DIR", BASE_DIR / ".data"))
PGDATA = DATA_DIR / "postgres"
# Another name keeps a second database on the same server (make bench uses one).
DATABASE_NAME = os.environ.get("HUB_DB_NAME", "returns_hub")

logger = logging.getLogger(__name__)


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without detaching (kill -9, power loss).

    pgserver only stops the server when its list of attached pids empties; a
    pid left behind by a killed process would keep it running for ever.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except json.JSONDecodeError:
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def server():
    """Start the embedded server if needed and attach this process to it."""
    # pgserver imports platformdirs, which warns when XDG_RUNTIME_DIR is unset.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(DATA_DIR / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(PGDATA)
    pg = pgserver.get_server(PGDATA, cleanup_mode="stop")
    # atexit runs last-registered first: forget processes that exited without
    # detaching (a child ended with os._exit, say) before pgserver decides
    # whether this process is the last one and should stop the server.
    atexit.register(_prune_dead_handles, PGDATA)
    return pg


def database_url() -> str:
    """A URL to the hub's database on the embedded server, created if missing."""
    pg = server()
    exists = pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        pg.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # The superuser "postgres" through the Unix socket directory; a socket path
    # is the URL's host, percent-encoded, so every tool reads it the same way.
    socket_dir = pg.get_postmaster_info().socket_dir
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"


def stop() -> bool:
    """Stop the server regardless of who is attached. True if it was running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
    if info is None or not info.is_running():
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=PGDATA, user=user)
    (PGDATA / ".handle_pids.json").unlink(missing_ok=True)
    return True


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "url"
    if command == "url":
        print(database_url())
        return 0
    if command == "status":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.utils import PostmasterInfo
        info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
        running = info is not None and info.is_running()
        print(f"embedded PostgreSQL at {PGDATA}: {'running' if running else 'stopped'}")
        return 0
    if command == "stop":
        print("stopped" if stop() else "was not running")
        return 0
    print(f"usage: python -m config.embedded_postgres [url|status|stop], not {command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
