"""Settings: production passes Django's deployment checklist; bad settings fail loudly."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        # Only what the test names: nothing the test process itself was given.
        env={**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "returns.example.com",
            "DATABASE_URL": database_url(),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage(
        "check",
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "",
            "ALLOWED_HOSTS": "returns.example.com",
            "DATABASE_URL": database_url(),
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_non_postgres_database_url_is_refused():
    result = _manage("check", env={"DATABASE_URL": "mysql://db/hub"})
    assert result.returncode != 0
    assert "DATABASE_URL must use one of the schemes" in result.stderr


def test_task_timeout_must_be_below_retry():
    result = _manage("check", env={"Q_TIMEOUT": "120", "Q_RETRY": "90"})
    assert result.returncode != 0
    assert "Q_TIMEOUT must be lower than Q_RETRY" in result.stderr


def test_queue_settings_keep_timeout_below_retry_and_bound_attempts():
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1
    assert q["ack_failures"] is True


def test_tests_run_on_postgresql(db):
    assert connection.vendor == "postgresql"
