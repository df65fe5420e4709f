"""The grades a unit can be given on the warehouse screen: the connection's platform's
rows of the disposition table, numbered 1 to 9 for the keyboard.

Restocking grades come first (the common case gets the lowest number), then quarantine,
then write-offs. Non-return outcomes (kept, donated) are not grades of goods on the bench.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns_hub.choices import NON_RETURN_OUTCOMES, StockAction
from returns_hub.models import DispositionMapping

KEYS = 9  # one number key per grade
ACTION_ORDER = {StockAction.RESTOCK: 0, StockAction.QUARANTINE: 1, StockAction.WRITE_OFF: 2}


@dataclass(frozen=True)
class Grade:
    number: int
    code: str
    stock_action: str
    reason: str

    @property
    def key(self) -> str:
        """The accesskey, for the first nine."""
        return str(self.number) if self.number <= KEYS else ""

    @property
    def stock_action_label(self) -> str:
        return StockAction(self.stock_action).label


def grades_for(platform: str) -> list[Grade]:
    rows = (
        DispositionMapping.objects.filter(platform=platform)
        .exclude(disposition__in=NON_RETURN_OUTCOMES)
        .select_related("khaos_return_reason")
    )
    ordered = sorted(rows, key=lambda row: (ACTION_ORDER.get(row.stock_action, 9), row.disposition))
    return [
        Grade(number, row.disposition, row.stock_action, row.khaos_return_reason.name)
        for number, row in enumerate(ordered, start=1)
    ]


class UnknownGrade(ValueError):
    """What was typed names none of the grades offered."""


def pick(grades: list[Grade], typed: str) -> Grade:
    """The grade a number (``3``) or a code (``sellable``, any case) names."""
    text = (typed or "").strip()
    if not grades:
        raise UnknownGrade("no grades are mapped for this platform: ask the data team")
    if not text:
        raise UnknownGrade("type a grade's number or code, then Enter")
    if text.isdigit() and 1 <= int(text) <= len(grades):
        return grades[int(text) - 1]
    for grade in grades:
        if grade.code.lower() == text.lower():
            return grade
    choices = f"a number from 1 to {len(grades)}" if len(grades) > 1 else "1"
    raise UnknownGrade(f"“{text}” is not a grade here: type {choices} or a grade's code")
