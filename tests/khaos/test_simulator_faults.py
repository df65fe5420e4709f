"""The strict Khaos simulator's transient import failure (``Faults.import_failure_rate``):
a valid record fails to import for a moment, is kept as failed, and is imported when a
user retries it by name (``SpecificIDs``). The vendor's rules still apply first."""

import pytest

from connectors.khaos.simulator import Faults
from returns_hub.services.generate import generate
from tests.khaos.test_e2e_strict import served, strict_khaos

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_transient_import_failure_is_retried_by_name(live_server, workspace):
    generate(workspace.connections["rebound"], 6, prefix="T", batch=6)
    refs = served("return")
    assert len(refs) == 6

    sim = strict_khaos(live_server, workspace)
    sim.faults = Faults(import_failure_rate=1.0)
    sim.load_config()
    assert sim.poll_returns() == 0
    assert sim.state.returns == {}
    assert sim.failed["CReturnDownload"] == refs
    assert set(sim.state.refused) == refs
    assert sim.counts["import_failures"] == 6
    assert sim.poll_returns() == 0  # the token moved on: only a retry by name brings them

    assert sim.retry_failed() == 6
    assert set(sim.state.returns) == refs
    assert sim.state.refused == {} and sim.failed["CReturnDownload"] == set()
    assert sim.counts["retried_imports"] == 6
    assert sim.state.duplicates_refused == 0


def test_a_record_breaking_the_rules_is_refused_whatever_the_fault(
    live_server, workspace, returns_without_invoice_contact
):
    generate(workspace.connections["rebound"], 2, prefix="R", batch=2)
    sim = strict_khaos(live_server, workspace)
    sim.faults = Faults(import_failure_rate=1.0)
    sim.load_config()
    sim.poll_returns()
    assert sim.counts["import_failures"] == 0  # refused by the rules, not by the fault
    assert sim.retry_failed() == 0  # and refused again when retried
    assert sim.state.returns == {}
    assert all("InvoiceContact is Required" in why for why in sim.state.refused.values())
