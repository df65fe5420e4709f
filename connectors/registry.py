"""The connectors the hub runs. A new platform: a new package and one line here."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from returns_hub import platforms

if TYPE_CHECKING:
    from connectors.base.connector import Connector

CONNECTOR_PACKAGES = [
    "connectors.loop",
    "connectors.happy_returns",
    "connectors.reveni",
    "connectors.swap",
    "connectors.rebound",
]

_connectors: dict[str, Connector] = {}


def load() -> None:
    """Import every connector package and register its platform with the domain."""
    for path in CONNECTOR_PACKAGES:
        connector = import_module(path).connector
        _connectors[connector.spec.slug] = connector
        platforms.register(connector.spec)


def get(platform: str) -> Connector:
    try:
        return _connectors[platform]
    except KeyError:
        raise LookupError(f"no connector for platform {platform!r}") from None


def all_connectors() -> list[Connector]:
    return list(_connectors.values())
