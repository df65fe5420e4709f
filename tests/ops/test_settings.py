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


def _settings(env: dict) -> subprocess.CompletedProcess:
    """The settings module alone, imported in a process of its own with ``env``."""
    show = (
        "from config.settings import base as s; "
        "print(s.DATABASES['default']['CONN_MAX_AGE'], "
        "s.DATABASES['default'].get('OPTIONS', {}).get('pool'), s.HUB_WEB)"
    )
    return subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pool_and_web_sizes_come_from_the_environment():
    result = _settings(
        {
            "HUB_WEB_WORKERS": "3",
            "HUB_WEB_THREADS": "6",
            "HUB_WEB_MAX_REQUESTS": "0",
            "HUB_DB_POOL_MIN_SIZE": "2",
            "HUB_DB_POOL_TIMEOUT": "2.5",
        }
    )
    assert result.returncode == 0, result.stderr
    # The pool's ceiling follows the thread count unless set; it needs CONN_MAX_AGE 0.
    assert result.stdout.split(" ", 1)[0] == "0"
    assert "{'min_size': 2, 'max_size': 6, 'timeout': 2.5}" in result.stdout
    assert "'WORKERS': 3, 'THREADS': 6, 'MAX_REQUESTS': 0" in result.stdout


def test_pool_can_be_turned_off_and_bad_sizes_stop_the_start():
    off = _settings({"HUB_DB_POOL_MAX_SIZE": "0"})
    assert off.returncode == 0, off.stderr
    assert off.stdout.startswith("0 None ")
    for env, message in (
        ({"HUB_DB_POOL_MIN_SIZE": "5", "HUB_DB_POOL_MAX_SIZE": "4"}, "must not exceed"),
        ({"HUB_DB_POOL_TIMEOUT": "soon"}, "HUB_DB_POOL_TIMEOUT must be a number"),
        ({"HUB_WEB_THREADS": "0"}, "HUB_WEB_THREADS must be at least 1"),
    ):
        result = _settings(env)
        assert result.returncode != 0, env
        assert message in result.stderr, result.stderr


def test_the_tests_themselves_run_through_the_pool():
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert pool == settings.DB_POOL
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
