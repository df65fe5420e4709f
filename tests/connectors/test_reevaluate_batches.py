"""Re-evaluating held returns never runs as one long task: it is queued as short
tasks of at most BATCH returns each."""

import pytest
from django_q.models import Success

from returns_hub import tasks
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(monkeypatch):
    """Five returns held by SKU cases (one by two), one by another kind, one closed."""
    returns = [factories.ReturnFactory() for _ in range(5)]
    for ret in returns:
        factories.ExceptionCaseFactory(return_ref=ret, kind="unknown_sku")
    factories.ExceptionCaseFactory(return_ref=returns[0], kind="inactive_sku")
    factories.ExceptionCaseFactory(kind="unmapped_reason")
    factories.ExceptionCaseFactory(kind="unknown_sku", status="resolved")
    monkeypatch.setattr(tasks, "BATCH", 2)
    evaluated = []
    monkeypatch.setattr(tasks.engine, "evaluate", lambda ret, **kw: evaluated.append(ret.pk))
    return sorted(ret.pk for ret in returns), evaluated


def test_held_returns_are_queued_in_batches_not_evaluated_in_the_task(held, monkeypatch):
    ids, evaluated = held
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda *a, **k: queued.append((a, k)))

    assert tasks.reevaluate_held(["unknown_sku", "inactive_sku"]) == 5

    assert evaluated == []  # this task only queues
    assert [args for args, _ in queued] == [
        ("returns_hub.tasks.reevaluate", ids[0:2]),
        ("returns_hub.tasks.reevaluate", ids[2:4]),
        ("returns_hub.tasks.reevaluate", ids[4:5]),
    ]
    assert {kwargs["group"] for _, kwargs in queued} == {"reevaluate"}


def test_each_batch_runs_as_its_own_task_and_twice_is_harmless(held):
    ids, evaluated = held

    tasks.reevaluate_held(["unknown_sku", "inactive_sku"])  # the cluster runs them (sync)

    runs = Success.objects.filter(func="returns_hub.tasks.reevaluate")
    assert sorted(len(run.args[0]) for run in runs) == [1, 2, 2]
    assert sorted(evaluated) == ids  # each held return once
    assert tasks.reevaluate(ids[:2]) == 2  # a batch run again evaluates again, nothing more
