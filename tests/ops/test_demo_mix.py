"""The simulators' mix: about one return in ten with a problem, seeded, every kind in turn,
and each problem raising its exception when the hub takes the platform's webhooks."""

import os
import subprocess
import sys
from collections import Counter

import pytest

from connectors import registry, simulators
from connectors.base import demo
from connectors.base.simulator import PROBLEMS, Knobs, PlatformSimulator
from returns_hub.choices import EXCEPTION_OWNERS
from returns_hub.models import ExceptionCase, Return
from tests.conftest import database_url
from tests.ops.conftest import ROOT

PLATFORMS = ["loop", "happy-returns", "reveni", "swap", "rebound"]
N = 200


def simulator(platform: str, rate: float | None = 0.1, seed: int = 11) -> PlatformSimulator:
    return PlatformSimulator(
        registry.get(platform).simulator(),
        demo.catalogue(platform),
        knobs=Knobs(seed=seed, problem_rate=rate),
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_about_one_return_in_ten_has_a_problem_and_each_kind_comes_up(platform):
    sim = simulator(platform)
    made = Counter(sim.new_return().problem for _ in range(N))
    problems = N - made.pop("")
    assert 12 <= problems <= 28, problems  # 10% of 200 is 20
    assert set(made) == set(sim.dialect.problems)
    assert min(made.values()) >= problems // len(made)  # taken in turn


def test_every_problem_is_some_platforms():
    kinds = {kind for p in PLATFORMS for kind in registry.get(p).simulator().problems}
    assert kinds == set(PROBLEMS)


def test_the_mix_is_seeded():
    def mix(seed):
        sim = simulator("loop", seed=seed)
        return [(r.id, r.problem, r.units[0].sku) for r in (sim.new_return() for _ in range(50))]

    assert mix(5) == mix(5)
    assert mix(5) != mix(6)


def test_no_rate_no_problems_and_the_same_returns_as_before():
    clean, unset = simulator("swap", rate=0.0), simulator("swap", rate=None)
    made = [clean.new_return() for _ in range(N)], [unset.new_return() for _ in range(N)]
    assert not any(r.problem for r in made[0] + made[1])
    assert [r.units[0].sku for r in made[0]] == [r.units[0].sku for r in made[1]]


@pytest.mark.django_db
def test_the_demo_connections_get_the_configured_rate_and_others_none(settings):
    from tests.factories import PlatformConnectionFactory

    settings.HUB = {**settings.HUB, "SIMULATOR_PROBLEM_RATE": 0.25}
    ours = PlatformConnectionFactory(platform="loop", slug="demo-loop")
    theirs = PlatformConnectionFactory(platform="loop", slug="hf-loop")
    make = lambda c, knobs=None: simulators.for_connection(  # noqa: E731
        c, "http://hub", secret="s", api_key="k", knobs=knobs
    )
    assert make(ours).knobs.problem_rate == 0.25
    assert make(theirs).knobs.problem_rate == 0.0
    assert make(ours, Knobs(problem_rate=0.5)).knobs.problem_rate == 0.5


# Each problem, rendered as the platform sends it and taken through the hub's inbox.
THROUGH_THE_HUB = [
    ("loop", "unknown_sku", "unknown_sku"),
    ("loop", "unmapped_disposition", "unmapped_disposition"),
    ("loop", "value_mismatch", "value_mismatch"),
    ("loop", "unknown_customer", "unknown_customer"),
    ("loop", "exchange_unavailable", "exchange_unavailable"),
    ("reveni", "unmapped_reason", "unmapped_reason"),
    ("swap", "value_mismatch", "value_mismatch"),
    ("happy-returns", "unknown_sku", "unknown_sku"),
    ("rebound", "unmapped_disposition", "unmapped_disposition"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("platform", "problem", "kind"), THROUGH_THE_HUB)
def test_each_problem_raises_its_exception_in_the_hub(workspace, platform, problem, kind):
    connection = workspace.connections[platform]
    sim = simulator(platform, rate=0.0)
    ret = sim.new_return(problem=problem)
    ret.email = ret.email if problem == "unknown_customer" else "eleanor.whitfield@example.com"
    for body in demo.told(sim, ret, "refunded", demo._fixed_start(1)):
        demo.deliver(connection, body)
    hub = Return.objects.get(connection=connection)
    kinds = set(hub.exceptions.filter(status="open").values_list("kind", flat=True))
    assert kind in kinds, (kinds, hub.state)
    case = hub.exceptions.get(kind=kind, status="open") if kind != "exchange_unavailable" else None
    assert case is None or case.owner == EXCEPTION_OWNERS[kind]


@pytest.mark.django_db
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_clean_return_posts(workspace, platform):
    connection = workspace.connections[platform]
    sim = simulator(platform, rate=0.0)
    ret = sim.new_return(problem="")
    ret.email = "eleanor.whitfield@example.com"
    for body in demo.told(sim, ret, "refunded", demo._fixed_start(1)):
        demo.deliver(connection, body)
    hub = Return.objects.get(connection=connection)
    assert not ExceptionCase.objects.filter(status="open").exists()
    assert hub.postings.get().state == "ready"


def _configured_rate(value: str | None) -> subprocess.CompletedProcess:
    """HUB["SIMULATOR_PROBLEM_RATE"] as the settings read it, in a process of its own."""
    env = {k: v for k, v in os.environ.items() if k != "HUB_SIMULATOR_PROBLEM_RATE"}
    if value is not None:
        env["HUB_SIMULATOR_PROBLEM_RATE"] = value
    show = "from config.settings import base as s; print(s.HUB['SIMULATOR_PROBLEM_RATE'])"
    return subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_problem_rate_is_a_tenth_unless_set():
    assert _configured_rate(None).stdout.strip() == "0.1"
    assert _configured_rate("0.25").stdout.strip() == "0.25"
    assert _configured_rate("0").stdout.strip() == "0.0"
    for bad, said in (
        ("2", "HUB_SIMULATOR_PROBLEM_RATE must be at most 1"),
        ("-0.1", "HUB_SIMULATOR_PROBLEM_RATE must be at least 0.0"),
        ("lots", "HUB_SIMULATOR_PROBLEM_RATE must be a number"),
    ):
        refused = _configured_rate(bad)
        assert refused.returncode != 0 and said in refused.stderr, bad
