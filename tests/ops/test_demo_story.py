"""`load_demo --scenarios`: the story each team finds waiting, told through the hub."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from connectors.base import demo
from returns_hub.choices import EXCEPTION_OWNERS, ExceptionKind, ExchangeState
from returns_hub.models import (
    ExceptionCase,
    ExchangeRequest,
    InboxDelivery,
    PlatformConnection,
    Posting,
    Return,
    ReturnUnit,
    TimelineEntry,
)
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db

# What may go to Khaos after the story: the fixtures' clean returns and exchange orders,
# and the story's return Khaos never credited (besides the 40 generated RB-DEMO returns).
READY = {
    "LOOP-5001",
    "LOOP-5002-X",
    "LOOP-5003",
    "SWAP-40012",
    "SWAP-40012-X",
    "SWAP-40014",
    "REV-RVN-20250304-0007",
    "RB-884512",
    "RB-884515",
    "RB-900101",
}


def load() -> str:
    out = StringIO()
    call_command("load_demo", scenarios=True, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (
        PlatformConnection,
        Return,
        ReturnUnit,
        Posting,
        InboxDelivery,
        ExceptionCase,
        ExchangeRequest,
        TimelineEntry,
    )
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def story():
    return load()


def open_kinds(ref: str) -> list[str]:
    cases = ExceptionCase.objects.filter(return_ref__associated_ref=ref, status="open")
    return sorted(cases.values_list("kind", flat=True))


def test_a_second_load_creates_nothing(story):
    before = counts()
    again = load()
    assert counts() == before
    assert "Scenarios: 0 deliveries processed through the hub" in again
    assert "Scenarios: 53 deliveries processed through the hub, 0 seen before" in story


def test_every_kind_of_exception_waits_for_its_owner(story):
    for kind in ExceptionKind.values:
        owners = set(
            ExceptionCase.objects.filter(kind=kind, status="open").values_list("owner", flat=True)
        )
        assert owners == {EXCEPTION_OWNERS[kind]}, kind


def test_the_fixtures_scenarios_went_through_the_inbox(story):
    files = sum(len(demo.scenario_files(platform)) for platform in demo.SCENARIO_FOLDERS)
    assert files == 30
    assert InboxDelivery.objects.count() == 53  # the 30 files and the story's own bodies
    assert InboxDelivery.objects.filter(source="webhook").count() == 53
    unused = InboxDelivery.objects.exclude(status__in=["processed", "ignored"])
    assert list(unused.values_list("status", "topic")) == [("invalid", "return.created")]
    # The timeline is the hub's own, from the platform's events.
    loop_5001 = Return.objects.get(associated_ref="LOOP-5001")
    assert loop_5001.timeline.filter(kind="platform_return_opened").exists()


def test_the_named_situations(story):
    # Finance: a value mismatch to approve, and a credit note export to import.
    assert open_kinds("LOOP-5004") == ["value_mismatch"]
    assert Posting.objects.get(associated_ref="LOOP-5004").state == "held"
    assert f"credit note export is at {demo.CREDIT_NOTES}" in story
    assert "/finance/credit-notes/upload/" in story
    # CX: an exchange placed, and one that cannot be.
    placed = ExchangeRequest.objects.get(return_ref__associated_ref="LOOP-5002")
    assert placed.state == ExchangeState.ORDERED
    assert Posting.objects.get(associated_ref="LOOP-5002-X").state == "ready"
    unavailable = ExchangeRequest.objects.filter(return_ref__associated_ref="SWAP-40013")
    assert set(unavailable.values_list("state", flat=True)) == {ExchangeState.UNAVAILABLE}
    assert open_kinds("SWAP-40013") == ["exchange_unavailable"] * 3
    # Warehouse: a Happy Returns pallet expected, with units still to arrive.
    pallet = ReturnUnit.objects.filter(shipment__reference="PLT-MK-000482")
    assert pallet.count() == 4
    assert not pallet.filter(state__in=["received", "graded"]).exists()
    # A Reveni return refunded at once, its goods still to be inspected.
    reveni = Return.objects.get(associated_ref="REV-RVN-20250305-0003")
    assert reveni.refunded_at is not None
    assert not reveni.units.filter(state="graded").exists()
    # Data: the onboarding store, refused by its platform and with no channel.
    pilot = PlatformConnection.objects.get(slug=demo.PILOT_SLUG)
    assert pilot.khaos_channel is None and pilot.poll_failing_since is not None
    assert ExceptionCase.objects.filter(
        kind="platform_unreachable", connection=pilot, status="open"
    ).exists()


def test_nothing_reaches_khaos_that_should_not(story):
    made = Posting.objects.exclude(associated_ref__startswith="RB-DEMO")
    ready = set(made.filter(state="ready").values_list("associated_ref", flat=True))
    assert ready == READY
    assert not Posting.objects.filter(state__in=["downloaded", "confirmed"]).exists()
    for posting in made.filter(state="held"):  # each held one says why
        assert posting.return_ref.exceptions.filter(status="open").exists(), posting
    assert Posting.objects.get(associated_ref="LOOP-LOO900105-X").state == "cancelled"


@pytest.mark.parametrize("folder", sorted(demo.SCENARIO_FOLDERS.values()))
def test_the_scenario_bodies_are_the_shared_fixtures_unchanged(folder):
    ours = {path.name: path.read_bytes() for path in (demo.SCENARIOS_DIR / folder).iterdir()}
    theirs = {path.name: path.read_bytes() for path in (FIXTURES / folder).glob("*.json")}
    assert ours == theirs


def test_the_credit_note_export_is_the_shared_fixture_unchanged():
    assert (
        demo.CREDIT_NOTES.read_bytes() == (FIXTURES / "khaos/credit_note_export.csv").read_bytes()
    )


def test_runtime_reads_nothing_under_tests():
    for module in (demo.__file__,):
        text = Path(module).read_text()
        assert "tests/" not in text and "../shared" not in text
