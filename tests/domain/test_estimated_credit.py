"""A unit the platform gave no price (Happy Returns): its expected credit is the Khaos
SellPrice, and it is marked as an estimate wherever it is shown."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from returns_hub.choices import ExceptionKind, UnitState
from returns_hub.services import value
from tests import factories

pytestmark = pytest.mark.django_db

ESTIMATED = "(estimated from the Khaos SellPrice)"


@pytest.fixture
def hr_return():
    connection = factories.PlatformConnectionFactory(
        platform="happy-returns", settlement_wait_hours=24
    )
    return factories.ReturnFactory(connection=connection, associated_ref="HR-r1")


def unpriced(ret, sell_price="59.00", **fields):
    product = factories.KhaosProductFactory(
        sell_price_gross=Decimal(sell_price) if sell_price else None
    )
    return factories.ReturnUnitFactory(
        return_ref=ret, price=0, tax=0, price_known=False, product=product, **fields
    )


def test_expected_credit_of_an_unpriced_unit_is_the_khaos_sell_price_and_an_estimate(hr_return):
    unit = unpriced(hr_return)
    no_price_in_khaos = unpriced(hr_return, sell_price=None)
    priced = factories.ReturnUnitFactory(return_ref=hr_return)  # 24.99 + 5.00 tax

    assert (unit.expected_credit, unit.expected_credit_estimated) == (Decimal("59.00"), True)
    assert (no_price_in_khaos.expected_credit, no_price_in_khaos.expected_credit_estimated) == (
        Decimal("0.00"),
        True,
    )
    assert (priced.expected_credit, priced.expected_credit_estimated) == (Decimal("29.99"), False)
    live = [unit, no_price_in_khaos, priced]
    assert value.expected_credit(hr_return, live) == Decimal("88.99")
    assert value.estimated(live) and not value.estimated([priced])


def test_value_mismatch_says_the_expected_credit_is_an_estimate(hr_return):
    unit = unpriced(hr_return)
    hr_return.refunded_amount, hr_return.refunded_at = Decimal("50.00"), timezone.now()

    problem = value.mismatch(hr_return, [unit])

    assert problem.kind == ExceptionKind.VALUE_MISMATCH
    assert f"expected credit is 59.00 GBP {ESTIMATED}: -9.00" in problem.message
    assert problem.details["expected"] == "59.00"


def test_value_mismatch_of_priced_units_says_how_it_was_reached_not_estimated(hr_return):
    priced = factories.ReturnUnitFactory(return_ref=hr_return)
    hr_return.refunded_amount, hr_return.refunded_at = Decimal("50.00"), timezone.now()

    problem = value.mismatch(hr_return, [priced])

    assert "(price - discount + tax)" in problem.message
    assert "estimated" not in problem.message


def test_settlement_missing_says_the_credit_it_would_post_at_is_an_estimate(hr_return):
    now = timezone.now()
    unit = unpriced(hr_return, graded_at=now - timedelta(hours=25))
    priced = factories.ReturnUnitFactory(return_ref=hr_return, graded_at=now - timedelta(hours=25))

    estimated = value.awaiting_settlement(hr_return, [unit, priced], now)
    exact = value.awaiting_settlement(hr_return, [priced], now)

    assert estimated.kind == exact.kind == ExceptionKind.SETTLEMENT_MISSING
    assert f"expected credit of 88.99 GBP {ESTIMATED}, or ignore" in estimated.message
    assert "expected credit of 29.99 GBP, or ignore" in exact.message


def test_return_detail_marks_estimated_credit_per_unit_and_for_the_return(
    hr_return, api_client_for
):
    unit = unpriced(hr_return)
    priced = factories.ReturnUnitFactory(return_ref=hr_return)
    client = api_client_for("finance")

    body = client.get(f"/api/v1/returns/{hr_return.pk}/").json()

    units = {u["id"]: u for u in body["units"]}
    assert (units[unit.pk]["expected_credit"], units[unit.pk]["expected_credit_estimated"]) == (
        "59.00",
        True,
    )
    assert (units[priced.pk]["expected_credit"], units[priced.pk]["expected_credit_estimated"]) == (
        "29.99",
        False,
    )
    assert body["expected_credit_estimated"] is True

    # A cancelled unit's estimate is no part of what the return expects.
    unit.state = UnitState.CANCELLED
    unit.save(update_fields=["state"])
    assert (
        client.get(f"/api/v1/returns/{hr_return.pk}/").json()["expected_credit_estimated"] is False
    )
