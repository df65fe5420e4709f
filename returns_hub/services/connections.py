"""Setting up a platform connection and a Khaos channel: create or update, validated once.

``set_connection`` and ``set_khaos_channel`` (the shell) and the connections screen (the
browser) both call these, so a setting means the same and is refused for the same reason
wherever it is changed. A setting left ``UNCHANGED`` keeps its stored value; a secret is
only ever replaced, never read back (``returns_hub.secrets.mask`` shows its last four).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from returns_hub import platforms
from returns_hub.models import KhaosChannel, PlatformConnection


class _Unchanged:
    """A setting not given: the stored value stays (None is a value for some settings)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


class SettingsInvalid(ValueError):
    """Settings refused, each message under the setting it is about (``__all__``: none)."""

    def __init__(self, errors: Mapping[str, Iterable[str]]):
        self.errors = {name: list(messages) for name, messages in errors.items()}
        super().__init__("; ".join(f"{name}: {' '.join(m)}" for name, m in self.errors.items()))


@dataclass(frozen=True)
class Saved:
    record: PlatformConnection | KhaosChannel
    created: bool


def _given(value) -> bool:
    return value is not UNCHANGED


def _set(value) -> bool:
    """Given, and not None ("the default")."""
    return _given(value) and value is not None


def option_changes(options: Mapping, pairs: Iterable[str]) -> dict:
    """``options`` with each ``KEY=VALUE`` applied (``KEY=`` removes the key)."""
    changed = dict(options)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsInvalid({"option": [f"takes KEY=VALUE, got {pair!r}"]})
        if value:
            changed[key.strip()] = value
        else:
            changed.pop(key.strip(), None)
    return changed


def _full_clean(record) -> None:
    try:
        record.full_clean()
    except ValidationError as exc:
        raise SettingsInvalid(exc.message_dict) from None


@transaction.atomic
def save_connection(
    platform: str,
    slug: str,
    *,
    name=UNCHANGED,
    enabled=UNCHANGED,
    posting_policy=UNCHANGED,
    webhook_secret=UNCHANGED,
    api_key=UNCHANGED,
    base_url=UNCHANGED,
    poll_minutes=UNCHANGED,
    settlement_wait_hours=UNCHANGED,
    units_not_arrived_days=UNCHANGED,
    value_tolerance=UNCHANGED,
    currency=UNCHANGED,
    time_zone=UNCHANGED,
    credit_refunded_shipping=UNCHANGED,
    credit_handling_fee=UNCHANGED,
    options=UNCHANGED,
    option_pairs: Iterable[str] = (),
    channel=UNCHANGED,
) -> Saved:
    """Create the connection ``slug`` on ``platform``, or change the settings given.

    ``options`` replaces the platform options whole; ``option_pairs`` (``KEY=VALUE``)
    change one key each. ``channel`` is a Khaos channel slug; when a new connection names
    none and there is exactly one channel, it posts to that one. ``settlement_wait_hours``
    and ``value_tolerance`` take None for "the default".
    """
    try:
        spec = platforms.get(platform)
    except LookupError as exc:
        raise SettingsInvalid({"platform": [str(exc)]}) from None
    connection = PlatformConnection.objects.select_for_update().filter(slug=slug).first()
    if connection is not None and connection.platform != spec.slug:
        raise SettingsInvalid({"slug": [f"{slug!r} is already a {connection.platform} connection"]})
    created = connection is None
    if created:
        connection = PlatformConnection(
            platform=spec.slug, slug=slug, posting_policy=spec.default_policy
        )

    errors: dict[str, list[str]] = {}
    if _given(poll_minutes) and poll_minutes < 0:
        errors["poll_minutes"] = ["must be 0 (off) or more"]
    if _set(settlement_wait_hours) and settlement_wait_hours < 0:
        errors["settlement_wait_hours"] = ["must be 0 (post on the grade) or more"]
    if _given(units_not_arrived_days) and units_not_arrived_days < 1:
        errors["units_not_arrived_days"] = ["must be 1 or more"]
    if _set(value_tolerance) and (not isinstance(value_tolerance, Decimal) or value_tolerance < 0):
        errors["value_tolerance"] = ["must be an amount of 0.00 or more"]
    if _given(options) and not isinstance(options, dict):
        errors["options"] = ["must be a JSON object of the platform's options"]
    if errors:
        raise SettingsInvalid(errors)

    simple = {
        "name": name,
        "enabled": enabled,
        "webhook_secret": webhook_secret,
        "api_key": api_key,
        "base_url": base_url,
        "poll_minutes": poll_minutes,
        "settlement_wait_hours": settlement_wait_hours,
        "units_not_arrived_days": units_not_arrived_days,
        "value_tolerance": value_tolerance,
        "credit_refunded_shipping": credit_refunded_shipping,
        "credit_handling_fee": credit_handling_fee,
    }
    for field, value in simple.items():
        if _given(value):
            setattr(connection, field, value)
    if _given(posting_policy) and posting_policy:
        connection.posting_policy = posting_policy
    if _given(currency):
        connection.currency = currency.strip().upper()
    if _given(time_zone):
        connection.time_zone = time_zone.strip()
    stored_options = options if _given(options) else dict(connection.options or {})
    connection.options = option_changes(stored_options, option_pairs)
    connection.khaos_channel = _channel_for(channel, connection.khaos_channel)
    _full_clean(connection)
    connection.save()
    return Saved(connection, created)


def _channel_for(slug, current: KhaosChannel | None) -> KhaosChannel | None:
    if _given(slug) and slug:
        found = KhaosChannel.objects.filter(slug=slug).first()
        if found is None:
            raise SettingsInvalid(
                {"channel": [f"no Khaos channel {slug!r}; create it with set_khaos_channel"]}
            )
        return found
    if current is not None:
        return current
    channels = list(KhaosChannel.objects.all()[:2])
    return channels[0] if len(channels) == 1 else None


@transaction.atomic
def save_channel(
    slug: str,
    *,
    name=UNCHANGED,
    username=UNCHANGED,
    password=UNCHANGED,
    format=UNCHANGED,
    default_urn=UNCHANGED,
    site_id=UNCHANGED,
    sales_source=UNCHANGED,
    company_class=UNCHANGED,
    source_reference_key=UNCHANGED,
    download_frequency_minutes=UNCHANGED,
    batch_size=UNCHANGED,
    confirmation_days=UNCHANGED,
) -> Saved:
    """Create the Khaos channel ``slug`` (a user name and password needed) or change the
    settings given. Only the password's hash is kept. With a single channel, every
    connection without one posts to it."""
    channel = KhaosChannel.objects.select_for_update().filter(slug=slug).first()
    created = channel is None
    if created:
        missing = {
            field: ["is needed for a new channel"]
            for field, value in (("username", username), ("password", password))
            if not _given(value) or not value
        }
        if missing:
            raise SettingsInvalid(missing)
        channel = KhaosChannel(slug=slug)
    if _given(site_id) and site_id is not None and site_id < 1:
        raise SettingsInvalid({"site_id": ["must be a Khaos site ID (1 or more)"]})

    if _given(username):
        channel.username = username
    if _given(password):
        channel.set_password(password)
    if _given(format) and format:
        channel.format = format.upper()
    if _given(default_urn):
        channel.default_urn = default_urn.strip()
    if _given(sales_source):
        channel.sales_source = sales_source.strip()
    if _given(company_class):
        channel.company_class_id = company_class.strip()
    simple = {
        "name": name,
        "site_id": site_id,
        "source_reference_key": source_reference_key,
        "download_frequency_minutes": download_frequency_minutes,
        "batch_size": batch_size,
        "confirmation_days": confirmation_days,
    }
    for field, value in simple.items():
        if _given(value) and value is not None:
            setattr(channel, field, value)
    _full_clean(channel)
    channel.save()
    if KhaosChannel.objects.count() == 1:
        # With a single channel every connection posts to it.
        PlatformConnection.objects.filter(khaos_channel__isnull=True).update(khaos_channel=channel)
    return Saved(channel, created)
