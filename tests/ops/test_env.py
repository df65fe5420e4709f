"""The typed parsers that read settings from the environment."""

import contextlib
import os
import stat
from decimal import Decimal

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
    parse_url,
)


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
