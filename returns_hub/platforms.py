"""The platforms the hub knows, as connectors declare them.

The domain never imports a connector. Each connector registers a
``PlatformSpec`` here when Django starts, so a new platform is a new
connector package and one registry entry, with no edits to the domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns_hub.choices import PostingPolicy


@dataclass(frozen=True)
class PlatformSpec:
    slug: str  # as in URLs and the mapping tables: "loop", "happy-returns", …
    label: str
    ref_prefix: str  # AssociatedRef prefix Khaos sees: "LOOP", "HR", …
    default_policy: PostingPolicy
    # Hours a graded return waits for the platform's refund, credit or exchange
    # before it posts (0: post on the grade alone). Platforms that report what
    # they paid wait, so the value check runs before Khaos is told.
    settlement_wait_hours: int = 0


_platforms: dict[str, PlatformSpec] = {}


def register(spec: PlatformSpec) -> None:
    existing = _platforms.get(spec.slug)
    if existing is not None and existing != spec:
        raise ValueError(f"platform {spec.slug!r} is registered twice with different specs")
    _platforms[spec.slug] = spec


def get(slug: str) -> PlatformSpec:
    try:
        return _platforms[slug]
    except KeyError:
        known = ", ".join(sorted(_platforms)) or "none"
        raise LookupError(f"unknown platform {slug!r} (known: {known})") from None


def all_specs() -> list[PlatformSpec]:
    return sorted(_platforms.values(), key=lambda spec: spec.label.lower())


def choices() -> list[tuple[str, str]]:
    """For model and form fields; a callable so new platforms need no migration."""
    return [(spec.slug, spec.label) for spec in all_specs()]
