"""The Khaos simulator against a live hub over real HTTP: thousands of postings,
several polls, exactly one sales return per AssociatedRef, and stock that
matches the graded dispositions."""

import csv
from collections import Counter
from decimal import Decimal

import pytest

from connectors.khaos.simulator import Faults, KhaosSimulator, Reason, state_from_documents
from returns_hub.models import Posting, ReturnUnit, StockLevel
from returns_hub.services.generate import generate
from tests.conftest import FIXTURES, fixture_json
from tests.engine_events import apply_together, graded, opened, unit

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def khaos_state():
    urns = {row["urn"] for row in csv.DictReader((FIXTURES / "mappings/customers.csv").open())}
    reasons = [
        Reason(row["id"], row["processing_type"], site_id=2 if row["id"] == "6" else 1)
        for row in csv.DictReader((FIXTURES / "mappings/khaos_return_reasons.csv").open())
    ]
    stock = fixture_json("khaos/stock_upload.json")
    levels = fixture_json("khaos/stock_status_upload.json")
    return state_from_documents(stock, levels, urns, reasons)


def simulator(live_server, state, **kwargs):
    return KhaosSimulator(live_server.url, "hf", "khaos", "khaos-pw", state, **kwargs)


def expected_stock_moves() -> Counter:
    """What the graded dispositions say Khaos should put back on the shelf."""
    moves = Counter()
    units = ReturnUnit.objects.filter(
        return_ref__postings__state__in=["downloaded", "confirmed"],
        return_ref__postings__process_return=True,
        khaos_return_reason__processing_type="return_to_stock",
    ).select_related("product")
    for u in units:
        moves[(u.product.stock_code, u.site_id)] += 1
    return moves


@pytest.mark.parametrize(
    ("fmt", "faults"),
    [("JSON", Faults()), ("XML", Faults(lost_rate=0.3, error_rate=0.1, repeat_pushes=1, seed=3))],
    ids=["json", "xml-with-faults"],
)
def test_simulator_imports_thousands_exactly_once(live_server, workspace, fmt, faults):
    rb = workspace.connections["rebound"]
    # A few through the engine, with every kind of disposition, and thousands generated.
    for n, disposition in enumerate(["restocked", "quarantined", "written_off"] * 4):
        apply_together(
            rb,
            opened(
                f"E{n}",
                [unit("1", "HF-KNT-MCR-OAT-M", "59.00")],
                order=str(n),
                email="catherine.doyle@example.com",
            ),
            graded(f"E{n}", "1", disposition),
        )
    made = generate(rb, 2400, prefix="G", batch=800)
    total = Posting.objects.filter(kind="return", state="ready").count()
    assert total == made + 12

    state = khaos_state()
    before = dict(state.stock)
    sim = simulator(live_server, state, fmt=fmt, faults=faults)
    sim.load_config()
    assert sim.urls["CReturnDownload"] == f"{live_server.url}/khaos/hf/returns?format={fmt.lower()}"

    assert sim.poll_returns() == total
    assert len(state.returns) == total  # one sales return per AssociatedRef
    assert state.refused == {}
    assert set(Posting.objects.filter(kind="return").values_list("state", flat=True)) == {
        "downloaded"
    }
    assert sim.poll_returns() == 0  # nothing is served twice to an up-to-date Khaos
    assert len(state.credit_notes) == total

    moved = Counter({key: state.stock[key] - before.get(key, Decimal(0)) for key in state.stock})
    moved = +moved  # drop zeros
    assert moved == expected_stock_moves()

    sim.push_stock_status(codes={code for code, _ in moved})
    for (code, site), level in state.stock.items():
        if code in {c for c, _ in moved}:
            hub = StockLevel.objects.get(product__stock_code=code, site_id=site)
            assert hub.available == level


def test_refused_records_are_fixed_and_retried_by_name(live_server, workspace):
    rb = workspace.connections["rebound"]
    apply_together(
        rb,
        opened(
            "R1",
            [unit("1", "HF-KNT-MCR-OAT-M", "59.00")],
            order="1",
            email="catherine.doyle@example.com",
        ),
        graded("R1", "1", "restocked"),
    )
    state = khaos_state()
    state.customers.discard("WEB10271")  # the account is missing in Khaos
    sim = simulator(live_server, state)
    sim.load_config()
    assert sim.poll_returns() == 0
    assert "customer 'WEB10271' does not exist" in state.refused["RB-R1"]

    state.customers.add("WEB10271")  # created in Khaos; a user retries the failed import
    assert sim.retry_failed() == 1
    assert state.returns["RB-R1"].credit_note.startswith("CN")
    assert state.refused == {}


def test_credit_note_export_is_what_finance_downloads(live_server, workspace):
    rb = workspace.connections["rebound"]
    apply_together(
        rb,
        opened(
            "C1",
            [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00"), unit("2", "HF-KID-PDL-YEL-0506", "32.00")],
            order="9",
            email="catherine.doyle@example.com",
        ),
        graded("C1", "1", "restocked"),
        graded("C1", "2", "restocked"),
    )
    sim = simulator(live_server, khaos_state())
    sim.run_once()
    rows = list(csv.DictReader(sim.credit_note_csv().splitlines()))
    assert rows[0]["Associated Ref"] == "RB-C1"
    assert (rows[0]["Net"], rows[0]["Tax"], rows[0]["Gross"]) == ("61.17", "5.83", "67.00")
    assert "\r\n" in sim.credit_note_csv()


def test_the_simulator_command_runs_a_cycle_against_the_demo_workspace(live_server, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    call_command("load_demo", stdout=StringIO())
    out = StringIO()
    notes = tmp_path / "credit_notes.csv"
    call_command(
        "khaos_simulator",
        url=live_server.url,
        once=True,
        push_master=True,
        credit_notes=notes,
        stdout=out,
    )
    text = out.getvalue()
    assert "Khaos pushed the product master" in text
    assert "Khaos: 40 returns and 0 exchange orders imported" in text
    assert len(notes.read_text().splitlines()) == 41
    assert set(Posting.objects.values_list("state", flat=True)) == {"downloaded"}
