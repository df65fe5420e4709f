"""Production's session, CSRF and transport settings, read as production reads them.

The settings module is imported in a process of its own with only the environment a
deployment gives it (as ``tests/ops/test_settings.py`` does), and the values asserted:
secure, HTTP-only, SameSite cookies; HSTS; the redirect to HTTPS behind the proxy's
documented header; CSRF's trusted origins from ``CSRF_TRUSTED_ORIGINS`` (https only).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigError, parse_origins
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
]


def production(env: dict | None = None) -> subprocess.CompletedProcess:
    show = (
        "import json; from config.settings import production as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}}))"
    )
    given = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "returns.example.com",
        "DATABASE_URL": database_url(),
    }
    # Only what a deployment sets: nothing of this process's own security settings.
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "CSRF_", "SESSION_", "DJANGO_"))
    }
    return subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**inherited, **given, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_settings(env: dict | None = None) -> dict:
    result = production(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def prod() -> dict:
    return production_settings()


def test_cookies_are_secure_http_only_and_same_site(prod):
    assert prod["DEBUG"] is False
    assert prod["SESSION_COOKIE_SECURE"] is True
    assert prod["CSRF_COOKIE_SECURE"] is True
    assert prod["SESSION_COOKIE_HTTPONLY"] is True
    assert prod["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert prod["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")


def test_https_is_enforced_behind_the_documented_proxy_header(prod):
    assert prod["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600
    assert prod["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert prod["SECURE_SSL_REDIRECT"] is True
    assert prod["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    # Only the load balancers' plain-HTTP health probe is let through unredirected.
    assert prod["SECURE_REDIRECT_EXEMPT"] == ["^healthz$"]


def test_the_security_headers_hold_in_production(prod):
    assert prod["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert prod["SECURE_REFERRER_POLICY"] == "same-origin"
    assert prod["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert prod["X_FRAME_OPTIONS"] == "DENY"


def test_csrf_trusted_origins_come_from_the_environment(prod):
    assert prod["CSRF_TRUSTED_ORIGINS"] == []
    named = production_settings(
        {"CSRF_TRUSTED_ORIGINS": "https://returns.example.com, https://*.example.org"}
    )
    assert named["CSRF_TRUSTED_ORIGINS"] == ["https://returns.example.com", "https://*.example.org"]


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        ("http://returns.example.com", "origins must use https"),
        ("returns.example.com", "must list origins like https://"),
        ("https://returns.example.com/login", "must list origins like https://"),
    ],
)
def test_a_bad_trusted_origin_stops_production_starting(origins, message):
    result = production({"CSRF_TRUSTED_ORIGINS": origins})
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_the_origin_parser():
    assert parse_origins("X", None, []) == []
    assert parse_origins("X", " https://a.example.com:8443 ,", []) == ["https://a.example.com:8443"]
    assert parse_origins("X", "http://localhost:8000", [], schemes=("http", "https")) == [
        "http://localhost:8000"
    ]
    with pytest.raises(ConfigError, match="X origins must use https"):
        parse_origins("X", "http://localhost:8000", [])
