"""The soak's own embedded PostgreSQL: chosen before Django is set up, restarted for real.

``HUB_DATA_DIR`` selects the data directory, so the soak's server is a different
server from the development one; restarting it (``pg_ctl restart -m fast``, as
``config.embedded_postgres.stop`` uses pg_ctl) cuts every connection the hub holds.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def choose(data_dir: Path, name: str) -> None:
    """Point this process (and Django, once set up) at the soak's own server."""
    os.environ["HUB_DATA_DIR"] = str(data_dir.resolve())
    os.environ["HUB_DB_NAME"] = name
    os.environ.pop("DATABASE_URL", None)
    # The development settings, whatever the caller had (a test run's would queue
    # tasks in-process instead of on the cluster).
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"


def url() -> str:
    """The database's URL on the soak's server (started, and this process attached)."""
    from config.embedded_postgres import database_url

    return database_url()


def reset(name: str) -> None:
    """A fresh database: every run starts from nothing."""
    from config.embedded_postgres import server

    pg = server()
    pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")
    pg.psql(f"CREATE DATABASE {name};")


def restart() -> None:
    """Restart the server at once (fast: open transactions are rolled back)."""
    from config import embedded_postgres

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    log = embedded_postgres.PGDATA / "log"  # where pgserver's start writes the server's log
    pg_ctl(
        ["-w", "-l", str(log), "restart", "-m", "fast"],
        pgdata=embedded_postgres.PGDATA,
        user=user,
        timeout=60,
    )
