"""The strict Khaos simulator against a live hub over real HTTP.

The simulator checks every document it downloads against the vendor's published
property tables (connectors/khaos/validation.py) and refuses what breaks them, as
Khaos would. Here: every document the hub serves in the end-to-end flow (all five
platforms' fixture webhooks, engine-built returns with awkward customers, generated
returns, exchange orders) is imported, in JSON and in XML, with nothing refused and no
field Khaos would ignore; and documents with a Required field removed are refused,
named, and refused again when a user retries them by name.
"""

import dataclasses

import pytest

from connectors.khaos.simulator import KhaosSimulator
from returns_hub.models import Posting
from returns_hub.services import khaos_documents
from returns_hub.services.generate import generate
from returns_hub.services.postings import SERVABLE
from tests.conftest import PLATFORM_FOLDERS, fixture_webhooks, send_webhook
from tests.engine_events import apply_together, graded, opened, unit
from tests.khaos.conftest import swap_exchange as swap_exchange_event
from tests.khaos.test_e2e import khaos_state

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def strict_khaos(live_server, workspace, fmt="JSON"):
    """A fresh Khaos (first contact) reading the order link as the channel is set to."""
    return KhaosSimulator(
        live_server.url,
        "hf",
        "khaos",
        "khaos-pw",
        khaos_state(),
        fmt=fmt,
        source_reference_key=workspace.channel.source_reference_key,
    )


def replay_platform_fixtures(live_server, workspace):
    """Every platform's fixture webhooks, signed, over HTTP, as the platforms send them."""
    for platform in PLATFORM_FOLDERS:
        connection = workspace.connections[platform]
        for path in fixture_webhooks(platform):
            response = send_webhook(live_server.url, connection, path.read_bytes())
            assert response.status_code == 202, (path.name, response.text)


def awkward_returns(workspace):
    """Returns through the engine whose customers test the Address and Contact rules."""
    rb = workspace.connections["rebound"]
    email = "catherine.doyle@example.com"
    long_line = "Flat 1204, The Very Long Building Name of Riverside Quay"  # 56 characters
    cases = {
        "A1": opened("A1", [unit("1", "HF-KNT-MCR-OAT-M", "59.00")], order="11", email=email),
        "A2": dataclasses.replace(
            opened("A2", [unit("1", "HF-KNT-MCR-OAT-M", "59.00")], order="12", email=email),
            address={
                "line1": long_line,
                "line2": long_line,
                "town": "Kingston upon Hull " * 3,
                "postcode": "HU1 1AA  EXTRA",
                "country_code": "gb",
            },
        ),
        "A3": opened(
            "A3", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="13", email=email, name="Cher"
        ),
        "A4": opened(
            "A4", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="14", email=email, name=""
        ),
        "A5": dataclasses.replace(
            opened("A5", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="15", email=email),
            address={},
        ),
    }
    for rid, event in cases.items():
        apply_together(rb, event, graded(rid, "1", "restocked"))


def swap_exchange(workspace):
    # Not the fixtures' 40012: the first test replays that one too.
    apply_together(workspace.connections["swap"], swap_exchange_event("S9", order="1099"))


def served(kind: str) -> set[str]:
    return set(
        Posting.objects.filter(kind=kind, state__in=SERVABLE).values_list(
            "associated_ref", flat=True
        )
    )


@pytest.mark.parametrize(
    ("fmt", "source_reference_key"),
    [("JSON", "SourceReference"), ("XML", "SourceReference"), ("JSON", "SourceReturnReference")],
    ids=["json", "xml", "json-examples-spelling"],
)
def test_strict_khaos_imports_every_document_the_hub_serves(
    live_server, workspace, fmt, source_reference_key
):
    workspace.channel.source_reference_key = source_reference_key
    workspace.channel.save()
    replay_platform_fixtures(live_server, workspace)
    awkward_returns(workspace)
    swap_exchange(workspace)
    generate(workspace.connections["rebound"], 30, prefix="S", batch=30)
    returns, orders = served("return"), served("exchange_order")
    assert len(returns) >= 35 and {"LOOP-5002-X", "SWAP-40012-X"} <= orders

    sim = strict_khaos(live_server, workspace, fmt)
    sim.load_config()
    sim.poll_returns()
    sim.poll_orders()

    refused = {refusal.ref: refusal.problems for refusal in sim.refusals}
    assert refused == {}, "Khaos refused documents the hub served"
    assert sim.ignored == {}, "the hub served fields Khaos ignores"
    assert set(sim.state.returns) == returns
    assert set(sim.state.orders) == orders
    assert sim.poll_returns() == 0 and sim.poll_orders() == 0  # nothing is served twice


@pytest.mark.parametrize("fmt", ["JSON", "XML"])
def test_a_return_without_its_required_invoice_contact_is_refused(
    live_server, workspace, returns_without_invoice_contact, fmt
):
    rb = workspace.connections["rebound"]
    for rid in ("N1", "N2"):
        apply_together(
            rb,
            opened(
                rid,
                [unit("1", "HF-KNT-MCR-OAT-M", "59.00")],
                order=rid,
                email="catherine.doyle@example.com",
            ),
            graded(rid, "1", "restocked"),
        )
    assert served("return") == {"RB-N1", "RB-N2"}

    sim = strict_khaos(live_server, workspace, fmt)
    sim.load_config()
    assert sim.poll_returns() == 0
    assert sim.state.returns == {} and sim.state.credit_notes == []
    assert [(r.endpoint, r.ref, r.problems) for r in sim.refusals] == [
        ("CReturnDownload", "RB-N1", ["Returns[0].InvoiceContact is Required"]),
        ("CReturnDownload", "RB-N2", ["Returns[1].InvoiceContact is Required"]),
    ]
    assert sim.state.refused == {
        "RB-N1": "Returns[0].InvoiceContact is Required",
        "RB-N2": "Returns[1].InvoiceContact is Required",
    }

    # A Khaos user retries the failed imports by name: the hub serves the same text again
    # (a document is fixed once ready), and Khaos refuses it again, for the same reason.
    assert sim.retry_failed() == 0
    assert [r.ref for r in sim.refusals[2:]] == ["RB-N1", "RB-N2"]
    assert sim.state.returns == {}


def test_an_exchange_order_without_its_required_sales_source_is_refused(
    live_server, workspace, monkeypatch
):
    built = khaos_documents.exchange_order

    def without_sales_source(*args, **kwargs):
        document = built(*args, **kwargs)
        document["Header"].pop("SalesSource")
        document["Items"][0]["UnitPrice"] = {"Gross": "0"}  # a number, as text: not a Double
        return document

    monkeypatch.setattr(khaos_documents, "exchange_order", without_sales_source)
    swap_exchange(workspace)
    assert served("exchange_order") == {"SWAP-S9-X"}

    sim = strict_khaos(live_server, workspace)
    sim.load_config()
    assert sim.poll_orders() == 0
    assert sim.state.orders == {}
    assert [(r.endpoint, r.ref, r.problems) for r in sim.refusals] == [
        (
            "OrderDownload",
            "SWAP-S9-X",
            [
                "Orders[0].Header.SalesSource is Required",
                "Orders[0].Items[0].UnitPrice.Gross must be a number (Double), not the text '0'",
            ],
        )
    ]
