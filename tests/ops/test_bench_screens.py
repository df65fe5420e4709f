"""The screens benchmark's data builder, pages and ceilings, on a tiny dataset, so the
benchmark cannot rot. No timings are asserted: speed is measured by `make bench`."""

import pytest

from benchmarks import screens as bench
from returns_hub.choices import ExceptionStatus, ReturnState, UnitState
from returns_hub.models import ExceptionCase, InboundShipment, ReturnUnit, SkuMapping
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def small(monkeypatch):
    """A few graded returns on every platform, and the benchmark's sizes made tiny."""
    for name, size in {
        "ON_THEIR_WAY": 40,
        "PALLET_UNITS": 4,
        "OPEN_EXCEPTIONS": 60,
        "MAPPING_ROWS": 200,
        "SMALL_MAPPING_ROWS": 20,
    }.items():
        monkeypatch.setattr(bench, name, size)
    factories.KhaosReturnReasonFactory()
    for n, platform in enumerate(bench.PLATFORMS * 4):
        # get_or_create on the slug: one connection per platform
        connection = factories.PlatformConnectionFactory(platform=platform, slug=f"b-{platform}")
        factories.ReturnFactory(
            connection=connection,
            external_id=f"GEN{n:04d}",
            order_ref=str(100000 + n),
            customer_email=("many@example.com" if n % 2 else f"one{n}@example.com"),
            state=ReturnState.GRADED,
        )


def test_builds_once_and_measures_every_page(small):
    fixture = bench.build()

    assert fixture.made["open exceptions"] == 60
    assert ExceptionCase.objects.filter(status=ExceptionStatus.OPEN).count() == 61  # + the big one
    assert InboundShipment.objects.count() == bench.PALLETS
    assert ReturnUnit.objects.filter(state=UnitState.IN_TRANSIT).exists()
    assert SkuMapping.objects.count() == 200
    assert bench.build().made == {}  # made once
    assert ExceptionCase.objects.filter(status=ExceptionStatus.OPEN).count() == 61

    lines = []
    measured = bench.measure(fixture, runs=1, warmup=0, out=lines.append)
    failed = [figure.line() for figure in measured if not figure.timings]
    assert not failed, failed
    names = [figure.name for figure in measured]
    for url in ("GET / ", "GET /warehouse/ ", "GET /exceptions/ ", "GET /cx/?q=", "GET /mappings/"):
        assert any(name.startswith(url) for name in names), url
    ceilings = [name for name in names if "ceiling" in name]
    assert len(ceilings) >= 10
    assert len(lines) == len(measured)
