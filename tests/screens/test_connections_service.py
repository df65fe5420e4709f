"""returns_hub.services.connections: what set_connection, set_khaos_channel and the
connections screen all call."""

from decimal import Decimal

import pytest

from returns_hub.models import KhaosChannel, PlatformConnection
from returns_hub.services.connections import SettingsInvalid, save_channel, save_connection

pytestmark = pytest.mark.django_db


def test_a_new_connection_gets_its_platforms_policy_and_the_only_channel():
    channel = save_channel("hf", username="khaos", password="pw").record
    saved = save_connection("reveni", "hf-rev", webhook_secret="s" * 20)
    assert saved.created
    assert saved.record.posting_policy == "on_refund_unprocessed"
    assert saved.record.khaos_channel == channel


def test_settings_not_given_are_kept():
    save_connection("loop", "hf-loop", webhook_secret="whsec-kept-0001", currency="eur")
    saved = save_connection("loop", "hf-loop", value_tolerance=Decimal("0.25"))
    assert not saved.created
    connection = PlatformConnection.objects.get(slug="hf-loop")
    assert connection.webhook_secret == "whsec-kept-0001"
    assert connection.currency == "EUR"
    assert connection.value_tolerance == Decimal("0.25")


def test_options_are_replaced_whole_or_changed_a_key_at_a_time():
    save_connection("swap", "hf-swap", options={"auth": "hmac", "x": "1"})
    save_connection("swap", "hf-swap", option_pairs=["x=", "y=2"])
    assert PlatformConnection.objects.get().options == {"auth": "hmac", "y": "2"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"poll_minutes": -1}, "poll_minutes"),
        ({"settlement_wait_hours": -1}, "settlement_wait_hours"),
        ({"units_not_arrived_days": 0}, "units_not_arrived_days"),
        ({"value_tolerance": Decimal("-0.01")}, "value_tolerance"),
        ({"currency": "pounds"}, "currency"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"options": ["a"]}, "options"),
        ({"option_pairs": ["novalue"]}, "option"),
        ({"channel": "nowhere"}, "channel"),
    ],
)
def test_bad_settings_are_refused_under_their_name_and_nothing_is_saved(changes, field):
    with pytest.raises(SettingsInvalid) as refused:
        save_connection("loop", "hf-loop", **changes)
    assert field in refused.value.errors
    assert not PlatformConnection.objects.exists()


def test_a_slug_of_another_platform_or_an_unknown_platform_is_refused():
    save_connection("loop", "taken")
    with pytest.raises(SettingsInvalid, match="already a loop connection"):
        save_connection("swap", "taken")
    with pytest.raises(SettingsInvalid, match="unknown platform 'shopify'"):
        save_connection("shopify", "x")


def test_a_new_channel_needs_a_user_name_and_password_and_keeps_only_a_hash():
    with pytest.raises(SettingsInvalid) as refused:
        save_channel("hf")
    assert set(refused.value.errors) == {"username", "password"}
    channel = save_channel("hf", username="khaos", password="pw-1", format="xml").record
    assert channel.format == "XML" and "pw-1" not in channel.password_hash
    save_channel("hf", site_id=2)
    channel = KhaosChannel.objects.get()
    assert channel.site_id == 2 and channel.check_credentials("khaos", "pw-1")
    with pytest.raises(SettingsInvalid, match="site ID"):
        save_channel("hf", site_id=0)
