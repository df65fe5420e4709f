"""Deadlines move returns on with no event: the scheduled check finds them and the engine acts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from returns_hub import schedules, tasks
from returns_hub.models import ReturnUnit
from tests.engine_events import apply_together, graded, opened, refunded, unit

pytestmark = pytest.mark.django_db

EMAIL = "eleanor.whitfield@example.com"


def test_the_deadline_check_is_scheduled():
    schedules.register()
    schedule = Schedule.objects.get(name="check-deadlines")
    assert (schedule.func, schedule.minutes) == ("returns_hub.tasks.check_deadlines", 15)


def test_a_settlement_wait_that_ran_out_opens_settlement_missing(workspace):
    ret = apply_together(
        workspace.connections["loop"],
        opened("LOOP-DL", [unit("1", "HF-KNT-MCR-NVY-M", "59.00")], order="1002", email=EMAIL),
        graded("LOOP-DL", "1", "back_to_stock"),
    )
    assert tasks.check_deadlines() == 0  # still inside the 24 hours
    ReturnUnit.objects.filter(return_ref=ret).update(graded_at=timezone.now() - timedelta(hours=25))

    assert tasks.check_deadlines() == 1  # tests run tasks in-process
    case = ret.exceptions.get()
    assert (case.kind, case.status, case.posting) == (
        "settlement_missing",
        "open",
        ret.postings.get(),
    )
    assert tasks.check_deadlines() == 0  # found once: the held posting takes it off the list


def test_units_still_missing_after_the_limit_are_flagged_once(workspace):
    ret = apply_together(
        workspace.connections["happy-returns"],
        opened("HR-DL", [unit("1", "HF-KNT-MCR-NVY-M", "59.00")], order="1011", email=EMAIL),
        refunded("HR-DL", "59.00"),
    )
    type(ret).objects.filter(pk=ret.pk).update(refunded_at=timezone.now() - timedelta(days=22))

    assert tasks.check_deadlines() == 1
    assert ret.exceptions.get().kind == "units_not_arrived"
    assert tasks.check_deadlines() == 0
