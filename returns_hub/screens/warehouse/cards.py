"""A return's goods-in card: its units, what each still needs, and where the focus goes.

The next thing to do gets the focus (``autofocus``) and the one-key shortcuts
(``accesskey``): the first unit not yet graded, its "Received" button if it has not
arrived, else its grade box. After every action the card is drawn again, so the focus
walks the units in order: Enter, type a grade's number, Enter, and so on.

A fixed number of queries whatever the number of units: the return, its units, the grades,
its open exceptions and its latest timeline lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse

from returns_hub.choices import ExceptionStatus, UnitState
from returns_hub.models import ExceptionCase, Return, ReturnUnit, TimelineEntry
from returns_hub.screens.warehouse.grading import Grade, grades_for
from returns_hub.screens.warehouse.tables import platform_label

U = UnitState
RECEIVABLE = (U.EXPECTED, U.IN_TRANSIT)
GRADEABLE = (U.EXPECTED, U.IN_TRANSIT, U.RECEIVED)
TIMELINE_LINES = 8


@dataclass
class UnitRow:
    unit: ReturnUnit
    current: bool = False  # the unit the focus and the shortcuts are on

    @property
    def can_receive(self) -> bool:
        return self.unit.state in RECEIVABLE

    @property
    def can_grade(self) -> bool:
        return self.unit.state in GRADEABLE

    @property
    def focus_receive(self) -> bool:
        return self.current and self.can_receive

    @property
    def focus_grade(self) -> bool:
        return self.current and not self.can_receive and self.can_grade


@dataclass
class Card:
    ret: Return
    rows: list[UnitRow]
    grades: list[Grade]
    exceptions: list[ExceptionCase]
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def platform_label(self) -> str:
        return platform_label(self.ret.connection.platform)

    @property
    def detail_url(self) -> str:
        """The return's own screen once it exists, else its admin page."""
        try:
            return reverse("return-detail", args=[self.ret.pk])
        except NoReverseMatch:
            return reverse("admin:returns_hub_return_change", args=[self.ret.pk])

    @property
    def done(self) -> bool:
        """Nothing left to receive or grade: the scan box takes the focus back."""
        return not any(row.current for row in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        states = [row.unit.state for row in self.rows]
        return {
            "units": len(states),
            "received": sum(s in (U.RECEIVED, U.GRADED) for s in states),
            "graded": states.count(U.GRADED),
        }


def build(return_id: int, *, scanned: str = "") -> Card:
    ret = get_object_or_404(
        Return.objects.select_related("connection").prefetch_related(
            Prefetch(
                "units",
                ReturnUnit.objects.select_related("shipment", "product").order_by("pk"),
            )
        ),
        pk=return_id,
    )
    rows = [UnitRow(unit) for unit in ret.units.all()]
    _choose_current(rows, scanned)
    exceptions = list(
        ExceptionCase.objects.filter(return_ref=ret, status=ExceptionStatus.OPEN).order_by("pk")
    )
    timeline = list(
        TimelineEntry.objects.filter(return_ref=ret)
        .select_related("actor")
        .order_by("-at", "-pk")[:TIMELINE_LINES]
    )
    return Card(ret, rows, grades_for(ret.connection.platform), exceptions, timeline)


def _choose_current(rows: list[UnitRow], scanned: str) -> None:
    """The scanned item if it is one of the units still to do, else the first one to do."""
    todo = [row for row in rows if row.can_grade]
    if not todo:
        return
    code = scanned.strip()
    chosen = next(
        (
            row
            for row in todo
            if code
            and code
            in (
                row.unit.platform_sku,
                row.unit.barcode,
                row.unit.product.stock_code if row.unit.product else None,
            )
        ),
        todo[0],
    )
    chosen.current = True
