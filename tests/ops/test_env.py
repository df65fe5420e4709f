"""The typed parsers that read settings from the environment."""

import contextlib
import os
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.env import (
    ConfigError,
    Env,
    load_or_create_secret,
    parse_bool,
    parse_decimal,
    parse_float,
    parse_int,
    parse_list,
    parse_size,
    parse_url,
)
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "on", "y", "t"])
def test_bool_true(raw):
    assert parse_bool("DEBUG", raw, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", "", "n"])
def test_bool_false(raw):
    assert parse_bool("DEBUG", raw, True) is False


def test_bool_unset_is_default_and_nonsense_is_an_error():
    assert parse_bool("DEBUG", None, True) is True
    with pytest.raises(ConfigError, match="DEBUG must be a boolean"):
        parse_bool("DEBUG", "maybe", False)


def test_int():
    assert parse_int("N", None, 5) == 5
    assert parse_int("N", " 12 ", 5) == 12
    with pytest.raises(ConfigError, match="N must be a whole number"):
        parse_int("N", "1.5", 5)
    with pytest.raises(ConfigError, match="N must be at least 1"):
        parse_int("N", "0", 5, minimum=1)


def test_float():
    assert parse_float("T", None, 10.0) == 10.0
    assert parse_float("T", " ", 10.0) == 10.0
    assert parse_float("T", "2.5", 10.0) == 2.5
    assert Env({"T": "3"}).float("T", 1.0) == 3.0
    for bad in ("soon", "nan", "inf"):
        with pytest.raises(ConfigError, match="T must be a"):
            parse_float("T", bad, 1.0)
    with pytest.raises(ConfigError, match=r"T must be at least 0\.1"):
        parse_float("T", "0", 1.0, minimum=0.1)


def test_decimal_is_exact():
    assert parse_decimal("TOL", "0.10", Decimal("0.01")) == Decimal("0.10")
    assert parse_decimal("TOL", None, Decimal("0.01")) == Decimal("0.01")
    for bad in ("ten", "NaN", "Infinity"):
        with pytest.raises(ConfigError, match="TOL"):
            parse_decimal("TOL", bad, Decimal("0"))


def test_list_drops_blanks():
    assert parse_list("HOSTS", "a.example, b.example,,", []) == ["a.example", "b.example"]
    assert parse_list("HOSTS", None, ["x"]) == ["x"]
    assert parse_list("HOSTS", "", ["x"]) == []


def test_url_checks_scheme():
    schemes = ("postgres", "postgresql")
    assert parse_url("DATABASE_URL", None, schemes=schemes) is None
    assert parse_url("DATABASE_URL", " ", schemes=schemes) is None
    url = "postgres://u:p@db:5432/hub"
    assert parse_url("DATABASE_URL", url, schemes=schemes) == url
    with pytest.raises(ConfigError, match="must use one of the schemes"):
        parse_url("DATABASE_URL", "mysql://db/hub", schemes=schemes)
    with pytest.raises(ConfigError, match="must be a URL"):
        parse_url("DATABASE_URL", "db:5432", schemes=schemes)


def test_env_reads_a_mapping():
    env = Env({"DEBUG": "1", "WORKERS": "4", "HOSTS": "a,b", "NAME": " hub "})
    assert env.bool("DEBUG") is True
    assert env.int("WORKERS", 2) == 4
    assert env.list("HOSTS") == ["a", "b"]
    assert env.str("NAME") == "hub"
    assert env.str("MISSING", "fallback") == "fallback"


def test_secret_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "sub" / "secret_key"
    first = load_or_create_secret(path)
    assert len(first) >= 50
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first


@given(st.text())
def test_bool_parser_only_ever_returns_a_bool_or_raises_config_error(raw):
    with contextlib.suppress(ConfigError):
        assert isinstance(parse_bool("X", raw, False), bool)


def test_size_in_bytes_with_or_without_a_unit():
    assert parse_size("MAX", None, 5) == 5
    assert parse_size("MAX", " ", 5) == 5
    assert parse_size("MAX", "262144", 5) == 262144
    assert parse_size("MAX", "256MiB", 5) == 256 * 1024 * 1024
    assert parse_size("MAX", " 40 mb ", 5) == 40_000_000
    assert parse_size("MAX", "1GiB", 5) == 1024**3
    assert parse_size("MAX", "2k", 5) == 2000
    assert Env({"MAX": "64MIB"}).size("MAX", 1) == 64 * 1024 * 1024
    for bad in ("lots", "1.5MiB", "-1", "10 TB", "\uff12MB", "MiB"):
        with pytest.raises(ConfigError, match="MAX must be a size in bytes"):
            parse_size("MAX", bad, 5)
    with pytest.raises(ConfigError, match="MAX must be at least 1048576 bytes, got 1000"):
        parse_size("MAX", "1KB", 5, minimum=1024 * 1024)


def _khaos_upload_limit(value: str | None) -> subprocess.CompletedProcess:
    """HUB["KHAOS_UPLOAD_MAX_BYTES"] as the settings read it, in a process of its own."""
    env = {k: v for k, v in os.environ.items() if k != "HUB_KHAOS_UPLOAD_MAX_BYTES"}
    if value is not None:
        env["HUB_KHAOS_UPLOAD_MAX_BYTES"] = value
    show = "from config.settings import base as s; print(s.HUB['KHAOS_UPLOAD_MAX_BYTES'])"
    return subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_khaos_upload_limit_is_256_mib_unless_set():
    assert _khaos_upload_limit(None).stdout.strip() == str(256 * 1024 * 1024)
    assert _khaos_upload_limit("512MiB").stdout.strip() == str(512 * 1024 * 1024)
    assert _khaos_upload_limit("100000000").stdout.strip() == "100000000"
    too_small = _khaos_upload_limit("64KB")
    assert too_small.returncode != 0
    assert "HUB_KHAOS_UPLOAD_MAX_BYTES must be at least 1048576 bytes" in too_small.stderr
    nonsense = _khaos_upload_limit("big")
    assert nonsense.returncode != 0
    assert "HUB_KHAOS_UPLOAD_MAX_BYTES must be a size in bytes" in nonsense.stderr
