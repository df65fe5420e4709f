"""The reconciliation benchmark's data builder and measurements, on a tiny dataset, so the
benchmark cannot rot. No timings are asserted: speed is measured by `make bench`."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from benchmarks import reconciliation as bench
from reconciliation.models import CreditNote
from returns_hub.choices import MoneyState, PostingState, ReturnState
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)


@pytest.fixture
def generated():
    """Seventy graded returns with ready postings, as generate_returns leaves them."""
    connection = factories.PlatformConnectionFactory(platform="rebound", slug="bench-rebound")
    other = factories.PlatformConnectionFactory(platform="loop", slug="bench-loop")
    for n in range(70):
        ret = factories.ReturnFactory(
            connection=connection,
            external_id=f"GEN{n:04d}",
            associated_ref=f"RB-GEN{n:04d}",
            state=ReturnState.GRADED,
            money_state=MoneyState.POSTED,
        )
        factories.PostingFactory(
            return_ref=ret,
            channel=connection.khaos_channel,
            state=PostingState.READY,
            ready_at=NOW,
            expected_credit=Decimal("20.00") + n,
        )
    return connection, other


def test_builds_a_month_whose_summary_equals_the_raw_query(generated):
    connection, other = generated
    period = bench.build(connection, other, months=2, now=NOW)

    assert str(period) == "2025-05"  # May is full; June only half gone
    figures = bench.check(period)  # raises unless the summary equals the raw SQL
    for cause in bench.CAUSES:  # every difference cause has rows
        assert sum(cells[f"{cause}_count"] for cells in figures.values()) > 0, cause
    assert sum(cells[f"{c}_accepted_count"] for cells in figures.values() for c in bench.CAUSES)
    notes = CreditNote.objects.count()
    assert bench.build(connection, other, months=2, now=NOW) == period  # made once
    assert CreditNote.objects.count() == notes

    lines = []
    measured = bench.measure(period, runs=1, warmup=0, out=lines.append)
    names = [figure.name for figure in measured]
    assert "period summary: differences.totals" in names
    assert "raw aggregate query, one statement (the ceiling)" in names
    assert any(name.startswith("GET /api/v1/reconciliation/periods/") for name in names)
    assert any("page at row" in name for name in names)
    assert len(lines) >= len(measured)
