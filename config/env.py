"""Small typed parsers for settings read from the environment.

Each parser takes the raw string (or None when the variable is unset) so it can
be tested without touching ``os.environ``; ``Env`` binds them to a mapping.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


class ConfigError(ValueError):
    """A setting in the environment cannot be understood."""


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}")


def parse_int(name: str, raw: str | None, default: int, *, minimum: int | None = None) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


# Units for sizes in bytes: SI (powers of 1000) and binary (powers of 1024).
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE = re.compile(r"([0-9]+) *([a-z]*)")


def parse_size(name: str, raw: str | None, default: int, *, minimum: int | None = None) -> int:
    """A size in bytes: a whole number, optionally with a unit (``262144``, ``256MiB``,
    ``40 MB``, ``1gib``; any case)."""
    if raw is None or raw.strip() == "":
        return default
    match = _SIZE.fullmatch(raw.strip().lower())
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ConfigError(
            f"{name} must be a size in bytes such as 262144, 256MiB or 40MB, got {raw!r}"
        )
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} bytes, got {value}")
    return value


def parse_float(
    name: str, raw: str | None, default: float, *, minimum: float | None = None
) -> float:
    """A finite number such as a timeout in seconds (``2``, ``0.5``)."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_decimal(name: str, raw: str | None, default: Decimal) -> Decimal:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigError(f"{name} must be a decimal number, got {raw!r}") from None
    if not value.is_finite():
        raise ConfigError(f"{name} must be a finite decimal number, got {raw!r}")
    return value


def parse_list(name: str, raw: str | None, default: list[str]) -> list[str]:
    """Comma-separated values; blanks are dropped."""
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_str(name: str, raw: str | None, default: str) -> str:
    if raw is None:
        return default
    return raw.strip()


def parse_url(name: str, raw: str | None, *, schemes: tuple[str, ...]) -> str | None:
    """A URL whose scheme must be one of ``schemes``; unset or blank gives None."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or not rest:
        raise ConfigError(f"{name} must be a URL like {schemes[0]}://…, got {value!r}")
    if scheme.lower() not in schemes:
        allowed = ", ".join(schemes)
        raise ConfigError(f"{name} must use one of the schemes {allowed}, got {scheme!r}")
    return value


# scheme://host[:port], the host a name, an IP address or "*." and a domain; no path.
_ORIGIN = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def parse_origins(
    name: str, raw: str | None, default: list[str], *, schemes: tuple[str, ...] = ("https",)
) -> list[str]:
    """Comma-separated origins (``https://returns.example.com``), as Django's
    ``CSRF_TRUSTED_ORIGINS`` wants them: a scheme of ``schemes``, a host, no path."""
    origins = parse_list(name, raw, default)
    for origin in origins:
        match = _ORIGIN.match(origin)
        if match is None:
            raise ConfigError(
                f"{name} must list origins like {schemes[0]}://returns.example.com, got {origin!r}"
            )
        if match["scheme"] not in schemes:
            allowed = ", ".join(schemes)
            raise ConfigError(f"{name} origins must use {allowed}, got {origin!r}")
    return origins


def load_or_create_secret(path: Path) -> str:
    """A secret kept in a file for development: created once, then reused.

    The file is written with mode 0600 so other local users cannot read it.
    """
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


@dataclass(frozen=True)
class Env:
    """The environment, read through the parsers above."""

    values: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def bool(self, name: str, default: bool = False) -> bool:
        return parse_bool(name, self.values.get(name), default)

    def int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        return parse_int(name, self.values.get(name), default, minimum=minimum)

    def size(self, name: str, default: int, *, minimum: int | None = None) -> int:
        return parse_size(name, self.values.get(name), default, minimum=minimum)

    def float(self, name: str, default: float, *, minimum: float | None = None) -> float:
        return parse_float(name, self.values.get(name), default, minimum=minimum)

    def decimal(self, name: str, default: Decimal) -> Decimal:
        return parse_decimal(name, self.values.get(name), default)

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        return parse_list(name, self.values.get(name), default or [])

    def origins(
        self, name: str, default: list[str] | None = None, *, schemes: tuple[str, ...] = ("https",)
    ) -> list[str]:
        return parse_origins(name, self.values.get(name), default or [], schemes=schemes)

    def str(self, name: str, default: str = "") -> str:
        return parse_str(name, self.values.get(name), default)

    def url(self, name: str, *, schemes: tuple[str, ...]) -> str | None:
        return parse_url(name, self.values.get(name), schemes=schemes)
