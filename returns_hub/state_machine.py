"""The allowed transitions of a return and its units, in one table each.

A transition not in the table is refused with ``IllegalTransition``; every
transition made is written to the return's timeline with its cause.
"""

from __future__ import annotations

from returns_hub.choices import Cause, MoneyState, ReturnState, UnitState

R, M, U = ReturnState, MoneyState, UnitState

RETURN_TRANSITIONS: dict[str, set[str]] = {
    R.EXPECTED: {
        R.IN_TRANSIT,
        R.PARTLY_RECEIVED,
        R.RECEIVED,
        R.GRADED,
        R.NOT_RETURNED,
        R.CANCELLED,
        R.EXPIRED,
    },
    R.IN_TRANSIT: {R.PARTLY_RECEIVED, R.RECEIVED, R.GRADED, R.CANCELLED},
    R.PARTLY_RECEIVED: {R.RECEIVED, R.GRADED},
    R.RECEIVED: {R.GRADED},
    R.GRADED: set(),
    R.NOT_RETURNED: set(),
    R.CANCELLED: set(),
    R.EXPIRED: set(),
}

MONEY_TRANSITIONS: dict[str, set[str]] = {
    M.PENDING: {M.REFUNDED, M.POSTED, M.NONE},
    M.REFUNDED: {M.POSTED},
    M.POSTED: {M.CONFIRMED, M.REFUNDED, M.NONE},  # back, when a ready document is withdrawn
    M.CONFIRMED: set(),
    M.NONE: set(),
}

UNIT_TRANSITIONS: dict[str, set[str]] = {
    U.EXPECTED: {U.IN_TRANSIT, U.RECEIVED, U.GRADED, U.NOT_RETURNED, U.CANCELLED},
    U.IN_TRANSIT: {U.RECEIVED, U.GRADED, U.CANCELLED},
    U.RECEIVED: {U.GRADED},
    U.GRADED: set(),
    U.NOT_RETURNED: set(),
    U.CANCELLED: set(),
}

TABLES = {"state": RETURN_TRANSITIONS, "money_state": MONEY_TRANSITIONS}


class IllegalTransition(ValueError):
    pass


def allowed(table: dict[str, set[str]], current: str, target: str) -> bool:
    return target in table[current]


def move_return(
    ret, field: str, target: str, *, cause: Cause, actor=None, delivery=None, message: str = ""
) -> bool:
    """Move the return's ``state`` or ``money_state``; False when already there."""
    current = getattr(ret, field)
    if current == target:
        return False
    if not allowed(TABLES[field], current, target):
        raise IllegalTransition(f"{ret} {field}: {current} → {target} is not allowed")
    setattr(ret, field, target)
    ret.save(update_fields=[field, "updated_at"])
    from returns_hub.services import timeline

    side = "Physical" if field == "state" else "Money"
    timeline.record(
        ret,
        f"{field}_changed",
        message or f"{side} state {current} → {target}",
        cause=cause,
        actor=actor,
        delivery=delivery,
        from_state=current,
        to_state=target,
    )
    return True


def move_unit(
    unit, target: str, *, cause: Cause, actor=None, delivery=None, message: str = ""
) -> bool:
    current = unit.state
    if current == target:
        return False
    if not allowed(UNIT_TRANSITIONS, current, target):
        raise IllegalTransition(f"unit {unit.external_id}: {current} → {target} is not allowed")
    unit.state = target
    unit.save(update_fields=["state"])
    from returns_hub.services import timeline

    timeline.record(
        unit.return_ref,
        "unit_state_changed",
        message
        or f"Unit {unit.external_id} ({unit.platform_sku or unit.barcode}): {current} → {target}",
        cause=cause,
        actor=actor,
        delivery=delivery,
        unit=unit,
        from_state=current,
        to_state=target,
    )
    return True


def physical_state(unit_states: list[str]) -> str:
    """The return's physical state as its units' states imply it."""
    live = [s for s in unit_states if s != U.CANCELLED]
    if not live:
        return R.EXPECTED
    if all(s == U.NOT_RETURNED for s in live):
        return R.NOT_RETURNED
    arrived = {U.RECEIVED, U.GRADED, U.NOT_RETURNED}
    if all(s in {U.GRADED, U.NOT_RETURNED} for s in live):
        return R.GRADED
    if all(s in arrived for s in live):
        return R.RECEIVED
    if any(s in {U.RECEIVED, U.GRADED} for s in live):
        return R.PARTLY_RECEIVED
    if any(s == U.IN_TRANSIT for s in live):
        return R.IN_TRANSIT
    return R.EXPECTED
