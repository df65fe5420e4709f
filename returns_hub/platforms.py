"""The platforms the hub knows, as connectors declare them.

The domain never imports a connector. Each connector registers a
``PlatformSpec`` here when Django starts, so a new platform is a new
connector package and one registry entry, with no edits to the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    # A grade a person gives on the hub is told back to the platform (which then
    # refunds), through the outbox (``services.writeback``) and the connector's writer.
    writes_back: bool = False


# A platform's write-back plan, given by its connector's writer: from the return's units
# as the hub graded them (``services.writeback.unit_grades``) and the return's context
# (platform state, connection options), the kind of call to queue ("process", "flag",
# "approve", …), or "" when the platform is not to be told.
WriteBackPlan = Callable[[Sequence[Mapping[str, Any]], Mapping[str, Any]], str]

_platforms: dict[str, PlatformSpec] = {}
_write_back_plans: dict[str, WriteBackPlan] = {}


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


def register_write_back(slug: str, plan: WriteBackPlan) -> None:
    """A connector's writer says which call carries a return's grades to its platform."""
    _write_back_plans[slug] = plan


def write_back_plan(slug: str) -> WriteBackPlan:
    spec = get(slug)
    if not spec.writes_back:
        raise LookupError(f"platform {slug!r} is not told the hub's grades")
    try:
        return _write_back_plans[slug]
    except KeyError:
        raise LookupError(
            f"platform {slug!r} writes back but its connector has no writer"
        ) from None
