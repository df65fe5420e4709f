"""The shell commands INTERFACE.md fixes, and the demo and mapping loaders."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosChannel,
    KhaosProduct,
    KhaosReturnReason,
    PlatformConnection,
    Posting,
    Return,
    SkuMapping,
)
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **kwargs)
    return out.getvalue()


def test_set_connection_creates_then_updates_and_never_prints_secrets():
    output = run(
        "set_connection",
        "loop",
        "hf-loop",
        "--webhook-secret",
        "whsec_0123456789abcdef",
        "--api-key",
        "loop-key-0123456789",
        "--base-url",
        "https://api.loopreturns.com/api/v1",
        "--poll-minutes",
        "10",
    )
    assert "Created Loop Returns connection 'hf-loop'" in output
    assert "whsec_0123456789abcdef" not in output and "cdef" in output
    connection = PlatformConnection.objects.get(slug="hf-loop")
    assert connection.posting_policy == "on_inspection"
    assert connection.poll_minutes == 10
    assert connection.enabled

    output = run("set_connection", "loop", "hf-loop", "--disabled")
    assert "Updated" in output
    connection.refresh_from_db()
    assert not connection.enabled
    assert connection.webhook_secret == "whsec_0123456789abcdef"  # kept when not given
    assert PlatformConnection.objects.count() == 1


def test_set_connection_sets_currency_time_zone_and_options():
    output = run(
        "set_connection",
        "happy-returns",
        "hf-hr",
        "--currency",
        "eur",
        "--time-zone",
        "Europe/Dublin",
        "--option",
        "signature_encoding=base64",
        "--option",
        "auth=jwt",
    )
    assert "currency EUR, time zone Europe/Dublin" in output
    connection = PlatformConnection.objects.get(slug="hf-hr")
    assert (connection.currency, connection.time_zone) == ("EUR", "Europe/Dublin")
    assert connection.options == {"signature_encoding": "base64", "auth": "jwt"}

    run("set_connection", "happy-returns", "hf-hr", "--option", "auth=")
    connection.refresh_from_db()
    assert connection.options == {"signature_encoding": "base64"}  # the others kept
    assert connection.currency == "EUR"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-zone", "Mars/Olympus"], "not a time zone name"),
        (["--currency", "pounds"], "ISO 4217"),
        (["--option", "novalue"], "KEY=VALUE"),
    ],
)
def test_set_connection_refuses_a_bad_currency_zone_or_option(args, message):
    with pytest.raises(CommandError, match=message):
        run("set_connection", "rebound", "hf-rb", *args)
    assert not PlatformConnection.objects.filter(slug="hf-rb").exists()


@pytest.mark.parametrize(
    ("platform", "policy"),
    [
        ("loop", "on_inspection"),
        ("happy-returns", "on_inspection"),
        ("swap", "on_inspection"),
        ("rebound", "on_final_disposition"),
        ("reveni", "on_refund_unprocessed"),
    ],
)
def test_each_platform_gets_its_default_policy(platform, policy):
    run("set_connection", platform, f"hf-{platform}")
    assert PlatformConnection.objects.get(slug=f"hf-{platform}").posting_policy == policy


def test_set_connection_refuses_unknown_platform_and_a_slug_of_another_platform():
    with pytest.raises(CommandError, match="unknown platform 'shopify'"):
        run("set_connection", "shopify", "x")
    run("set_connection", "loop", "taken")
    with pytest.raises(CommandError, match="already a loop connection"):
        run("set_connection", "swap", "taken")


def test_set_khaos_channel_is_idempotent_and_attaches_connections():
    run("set_connection", "loop", "hf-loop")
    args = ["set_khaos_channel", "hf", "--username", "khaos", "--password", "pw-1"]
    assert "Created" in run(*args, "--format", "xml", "--site-id", "2")
    assert "Updated" in run(*args[:-1], "pw-2", "--default-urn", "WEB00001")
    channel = KhaosChannel.objects.get()
    assert channel.format == "XML"
    assert channel.site_id == 2
    assert channel.default_urn == "WEB00001"
    assert channel.check_credentials("khaos", "pw-2")
    assert PlatformConnection.objects.get().khaos_channel == channel


def test_import_mappings_previews_then_applies(tmp_path):
    run(
        "import_mappings",
        "khaos_return_reasons",
        str(FIXTURES / "mappings/khaos_return_reasons.csv"),
        "--apply",
    )
    path = str(FIXTURES / "mappings/disposition_mappings.csv")

    preview = run("import_mappings", "disposition_mappings", path)
    assert "new 18" in preview and "Preview only" in preview
    assert not DispositionMapping.objects.exists()

    assert "new 18" in run("import_mappings", "disposition_mappings", path, "--apply")
    assert DispositionMapping.objects.count() == 18
    assert "unchanged 18" in run("import_mappings", "disposition_mappings", path, "--apply")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "platform,disposition,stock_action,khaos_return_reason_id,site_id\n"
        "loop,shelf,restock,99,1\n"
    )
    with pytest.raises(CommandError, match="nothing was imported"):
        run("import_mappings", "disposition_mappings", str(bad), "--apply")
    assert DispositionMapping.objects.count() == 18


def test_load_demo_loads_the_workspace_once():
    first = run("load_demo")
    assert "Demo workspace ready" in first
    counts = (
        PlatformConnection.objects.count(),
        KhaosProduct.objects.count(),
        KhaosReturnReason.objects.count(),
        SkuMapping.objects.count(),
        CustomerMapping.objects.count(),
    )
    assert counts == (5, 27, 9, 2, 18)
    assert Return.objects.count() == 40 and Posting.objects.filter(state="ready").count() == 40
    second = run("load_demo")
    assert "User admin" not in second  # users are made once
    assert "new 0" in second
    assert counts == (
        PlatformConnection.objects.count(),
        KhaosProduct.objects.count(),
        KhaosReturnReason.objects.count(),
        SkuMapping.objects.count(),
        CustomerMapping.objects.count(),
    )
    from django.contrib.auth import get_user_model

    assert set(
        get_user_model()
        .objects.filter(groups__name__in=["finance", "warehouse", "cx", "data"])
        .values_list("username", flat=True)
    ) == {"finance", "warehouse", "cx", "data"}
