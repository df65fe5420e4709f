"""The transition tables: every allowed move works and is on the timeline; others are refused."""

import pytest

from returns_hub.choices import Cause, MoneyState, ReturnState, UnitState
from returns_hub.state_machine import (
    MONEY_TRANSITIONS,
    RETURN_TRANSITIONS,
    UNIT_TRANSITIONS,
    IllegalTransition,
    move_return,
    move_unit,
    physical_state,
)
from tests import factories

pytestmark = pytest.mark.django_db

ALLOWED_RETURN = [(a, b) for a, targets in RETURN_TRANSITIONS.items() for b in targets]
ALLOWED_MONEY = [(a, b) for a, targets in MONEY_TRANSITIONS.items() for b in targets]
ALLOWED_UNIT = [(a, b) for a, targets in UNIT_TRANSITIONS.items() for b in targets]


def test_every_state_has_a_row():
    assert set(RETURN_TRANSITIONS) == set(ReturnState.values)
    assert set(MONEY_TRANSITIONS) == set(MoneyState.values)
    assert set(UNIT_TRANSITIONS) == set(UnitState.values)


@pytest.mark.parametrize(("current", "target"), ALLOWED_RETURN)
def test_allowed_return_transitions(current, target, role_users):
    ret = factories.ReturnFactory(state=current)
    assert move_return(ret, "state", target, cause=Cause.USER, actor=role_users["warehouse"])
    ret.refresh_from_db()
    assert ret.state == target
    entry = ret.timeline.get()
    assert (entry.from_state, entry.to_state, entry.cause, entry.actor) == (
        current,
        target,
        "user",
        role_users["warehouse"],
    )


@pytest.mark.parametrize(("current", "target"), ALLOWED_MONEY)
def test_allowed_money_transitions(current, target):
    ret = factories.ReturnFactory(money_state=current)
    assert move_return(ret, "money_state", target, cause=Cause.TASK)
    assert ret.timeline.get().kind == "money_state_changed"


@pytest.mark.parametrize(("current", "target"), ALLOWED_UNIT)
def test_allowed_unit_transitions(current, target):
    unit = factories.ReturnUnitFactory(state=current)
    assert move_unit(unit, target, cause=Cause.PLATFORM)
    unit.refresh_from_db()
    assert unit.state == target
    assert unit.return_ref.timeline.get().unit == unit


@pytest.mark.parametrize(
    ("field", "current", "target"),
    [
        ("state", "graded", "expected"),
        ("state", "received", "in_transit"),
        ("state", "received", "cancelled"),  # goods in hand cannot be cancelled
        ("state", "cancelled", "in_transit"),
        ("state", "expired", "received"),
        ("state", "in_transit", "expired"),
        ("money_state", "confirmed", "refunded"),
        ("money_state", "confirmed", "posted"),
        ("money_state", "none", "posted"),
        ("money_state", "pending", "confirmed"),
    ],
)
def test_forbidden_return_transitions_are_refused_and_not_recorded(field, current, target):
    ret = factories.ReturnFactory(**{field: current})
    with pytest.raises(IllegalTransition, match=f"{current} → {target}"):
        move_return(ret, field, target, cause=Cause.TASK)
    ret.refresh_from_db()
    assert getattr(ret, field) == current
    assert not ret.timeline.exists()


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("graded", "received"),
        ("received", "in_transit"),
        ("cancelled", "received"),
        ("not_returned", "graded"),
        ("received", "cancelled"),
        ("graded", "expected"),
    ],
)
def test_forbidden_unit_transitions(current, target):
    unit = factories.ReturnUnitFactory(state=current)
    with pytest.raises(IllegalTransition):
        move_unit(unit, target, cause=Cause.TASK)


def test_moving_to_the_same_state_is_no_change():
    ret = factories.ReturnFactory(state="received")
    assert move_return(ret, "state", "received", cause=Cause.TASK) is False
    assert not ret.timeline.exists()


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        ([], "expected"),
        (["expected", "expected"], "expected"),
        (["in_transit", "expected"], "in_transit"),
        (["received", "in_transit"], "partly_received"),
        (["graded", "expected"], "partly_received"),
        (["received", "graded"], "received"),
        (["graded", "not_returned"], "graded"),
        (["not_returned", "not_returned"], "not_returned"),
        (["graded", "cancelled"], "graded"),
    ],
)
def test_physical_state_follows_the_units(units, expected):
    assert physical_state(units) == expected
