"""Scale-out: several task nodes on one backlog, several web nodes serving one Khaos.

Task nodes: two ``qcluster`` processes of two workers each, on one broker (Redis, and
separately the ORM), started together on a backlog stored at once: every platform's
signed webhooks for dozens of returns (several deliveries for each return, some with
the problems a real shop sends), and re-evaluations of the same returns queued while
the nodes work. Each delivery is processed once in effect, each return's events are
applied once, each return has at most one customer-return posting, no exception is
opened twice, and both nodes did part of the work.

Web nodes: two gunicorn servers on two ports, as two nodes behind a load balancer.
The strict Khaos simulator asks each in turn for the next page of its continuation,
losing some answers (it then repeats its token, to the other node), while returns
keep being made: it imports every return exactly once, in serve order, and a
document is served again only in the repeat of a page whose answer was lost.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connections
from django.db.models import Count
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from connectors.base import demo
from connectors.khaos import channel as khaos
from connectors.khaos.simulator import Faults, KhaosSimulator
from returns_hub import schedules
from returns_hub.choices import ExceptionStatus, InboxStatus, PostingKind, PostingState
from returns_hub.models import ExceptionCase, InboxDelivery, Posting, Return, TimelineEntry
from returns_hub.services.generate import generate
from tests.conftest import PLATFORM_FOLDERS
from tests.khaos.test_e2e import khaos_state
from tests.ops import nodes
from tests.ops.conftest import free_port

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

BROKERS = nodes.BROKERS
CLEAN = 4  # clean returns per platform, besides one with each problem the platform sends
# Happy Returns posts on the grade alone (no settlement wait): a refund that differs is
# a value_mismatch only when it arrives before the grade; after it, the document is
# fixed and the difference is reconciliation's (README "When a return posts"). Its
# outcome depends on the order the platform's webhooks are worked in, so it is left out.
ORDER_DEPENDENT = {("happy-returns", "value_mismatch")}
REEVALUATE_BATCH = 3


@pytest.fixture
def broker(request, monkeypatch) -> dict[str, str]:
    """Queue for real on the chosen broker, here and in the task nodes (their env)."""
    return nodes.use_broker(request.param, monkeypatch, workers=2)


# --- task nodes ----------------------------------------------------------------------


def stories(workspace) -> dict[str, tuple[object, str, list[bytes]]]:
    """Each platform's webhook bodies for its returns, opened to refunded, as the
    platform sends them: {platform's return id: (connection, problem or "", bodies)}."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    told = {}
    for seed, platform in enumerate(PLATFORM_FOLDERS, start=1):
        connection = workspace.connections[platform]
        sim = demo.simulator(connection, seed=seed)
        problems = [p for p in sim.dialect.problems if (platform, p) not in ORDER_DEPENDENT]
        for problem in [""] * CLEAN + problems:
            ret = sim.new_return(problem=problem)
            told[ret.id] = (connection, problem, demo.told(sim, ret, "refunded", start))
    return told


def store_all(post_webhook, told) -> dict[str, list[int]]:
    """Every body through the webhook receiver, signed: stored, and its task queued.
    Each story's delivery ids."""
    ids = {}
    for story, (connection, _, bodies) in told.items():
        for body in bodies:
            response = post_webhook(connection, body)
            assert response.status_code == 202, response.content
            ids.setdefault(story, []).append(response.json()["delivery"])
    return ids


def the_return(delivery_ids: list[int]) -> Return:
    """The one return a story's deliveries made and moved."""
    (ret,) = Return.objects.filter(timeline__delivery__in=delivery_ids).distinct()
    return ret


DONE = re.compile(r"(?:Processed|Failed) '[\w.]+' \((?P<name>[^)]+)\)")


def done_by(node: nodes.Node) -> Counter:
    """The tasks a node's monitor reported finished, by name."""
    return Counter(match["name"] for match in DONE.finditer(node.output()))


def queue_reevaluations() -> list[str]:
    """Each return made so far evaluated again, twice over, in short tasks."""
    ids = list(Return.objects.order_by("id").values_list("id", flat=True))
    names = []
    for start in range(0, len(ids), REEVALUATE_BATCH):
        for copy in (1, 2):
            name = f"reevaluate-{start}-{copy}"
            batch = ids[start : start + REEVALUATE_BATCH]
            async_task("returns_hub.tasks.reevaluate", batch, task_name=name, group="reevaluate")
            names.append(name)
    return names


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_two_task_nodes_work_one_backlog_once(workspace, post_webhook, broker, tmp_path):
    told = stories(workspace)
    stored = store_all(post_webhook, told)
    delivery_ids = [i for ids in stored.values() for i in ids]
    names = [f"process-delivery-{i}" for i in delivery_ids]
    assert len(delivery_ids) > 150 and len(told) >= 40

    env = nodes.environment(**broker)
    pair = [nodes.task_node(f"tasks-{n}", env, tmp_path) for n in (1, 2)]
    try:
        # While the deliveries are worked: the returns made so far, re-evaluated (twice).
        started = nodes.wait_until(lambda: Return.objects.count() >= len(told) // 2, 90)
        assert started, "\n".join(node.output()[-3000:] for node in pair)
        names += queue_reevaluations()
        finished = nodes.wait_until(
            lambda: Task.objects.filter(name__in=names).count() == len(names), 150, every=0.5
        )
    finally:
        outputs = nodes.stop_all(pair)
    assert finished, "the task nodes did not finish the backlog:\n" + "\n".join(
        output[-3000:] for output in outputs
    )

    # Every task ran once, on one node or the other, and both nodes worked.
    first, second = (done_by(node) for node in pair)
    assert first + second == Counter(names)
    assert min(len(first), len(second)) >= len(names) // 10, (len(first), len(second))
    tasks = Task.objects.filter(name__in=names)
    assert not tasks.filter(success=False).exists(), list(
        tasks.filter(success=False).values("name", "result")
    )
    results = Counter(t.result for t in tasks if t.func == "connectors.tasks.process_delivery")
    assert results == Counter({InboxStatus.PROCESSED: len(delivery_ids)})
    assert set(InboxDelivery.objects.values_list("status", flat=True)) == {InboxStatus.PROCESSED}

    # Each return's events applied once; one customer-return posting at most, and one
    # ready for each clean return; each problem's exception opened once.
    returns = {story: the_return(ids) for story, ids in stored.items()}
    assert Return.objects.count() == len(set(returns.values())) == len(told)
    twice = (
        TimelineEntry.objects.filter(event_key__isnull=False)
        .values("return_ref", "event_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not twice.exists(), list(twice)
    per_return = Counter(
        Posting.objects.filter(kind=PostingKind.RETURN).values_list("return_ref", flat=True)
    )
    assert max(per_return.values()) == 1
    opened = Counter(
        ExceptionCase.objects.filter(status=ExceptionStatus.OPEN).values_list(
            "return_ref__associated_ref", "kind"
        )
    )
    assert max(opened.values()) == 1, opened
    for story, (_, problem, _) in told.items():
        ref = returns[story].associated_ref
        posting = returns[story].postings.filter(kind=PostingKind.RETURN).first()
        if problem:
            assert opened[(ref, problem)] == 1, (ref, problem, opened)
        else:
            assert posting is not None and posting.state == PostingState.READY, ref
            assert not any(key[0] == ref for key in opened), (ref, opened)

    # Khaos is served each ready document once, from one channel's numbers.
    ready = set(
        Posting.objects.filter(kind=PostingKind.RETURN, state=PostingState.READY).values_list(
            "associated_ref", flat=True
        )
    )
    assert {
        returns[s].associated_ref for s, (_, problem, _) in told.items() if not problem
    } <= ready
    served, token = [], None
    while True:
        page = khaos.serve(workspace.channel, PostingKind.RETURN, token=token, specific=None)
        if not page.texts:
            break
        served += [document["AssociatedRef"] for document in page.documents]
        token = page.token
    assert sorted(served) == sorted(ready)

    # Four workers registered the schedules as they started, at once: each name once.
    rows = Counter(Schedule.objects.values_list("name", flat=True))
    assert set(rows) >= {s["name"] for s in schedules.SCHEDULES}
    assert set(rows.values()) == {1}, rows


# --- web nodes -----------------------------------------------------------------------

PAGE = 20  # the channel's batch size: many pages
RACED = "X-Test-Raced"
MADE_BEFORE = 60
BATCH, BATCHES = 8, 12  # made by each of two makers while Khaos pages


class Answer(NamedTuple):
    """One page of the returns download as the Khaos client received it."""

    port: int  # the node that answered
    asked: int  # the serve number the token asked after
    answered: int  # the serve number of the token answered
    while_making: bool  # answered while returns were still being made
    raced: bool  # a second request sent at once with the same token, its answer dropped


def _number(token: str | None) -> int:
    match = khaos.TOKEN.match((token or "").strip('"'))
    return int(match.group(1)) if match else 0


@pytest.fixture
def web_pair(workspace, tmp_path):
    """Two gunicorn nodes on two ports, each its own processes and connection pools."""
    ports = [free_port(), free_port()]
    env = nodes.environment()
    pair = [
        nodes.web_node(f"web-{n}", port, env, tmp_path, workers=1)
        for n, port in enumerate(ports, start=1)
    ]
    try:
        for node, port in zip(pair, ports, strict=True):
            nodes.wait_serving(node, port)
        yield ports
    finally:
        nodes.stop_all(pair)


def test_two_web_nodes_serve_one_continuation_without_skipping_or_repeating(workspace, web_pair):
    channel = workspace.channel
    # The nodes' own settings check a real hash (the tests' MD5 is not among theirs).
    channel.password_hash = PBKDF2PasswordHasher().encode("khaos-pw", "scaleoutsalt", 1000)
    channel.batch_size = PAGE
    channel.save()
    rebound = workspace.connections["rebound"]
    generate(rebound, MADE_BEFORE, prefix="B", batch=MADE_BEFORE)

    making = threading.Event()  # set once every return has been made
    pages: list[Answer] = []
    refused: list[int] = []  # any answer to a download but a page

    def seen(response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/returns"):
            return
        if response.status_code != 200:
            refused.append(response.status_code)
            return
        request = response.request
        pages.append(
            Answer(
                request.url.port,
                _number(request.headers.get("Sirion-Continuation")),
                _number(response.headers.get("Sirion-Continuation")),
                not making.is_set(),
                RACED in request.headers,
            )
        )

    client = httpx.Client(timeout=30, event_hooks={"response": [seen]})
    racing = httpx.Client(timeout=30, event_hooks={"response": [seen]}, auth=("khaos", "khaos-pw"))
    first, second = (f"http://127.0.0.1:{port}" for port in web_pair)
    sim = KhaosSimulator(
        first,
        channel.slug,
        "khaos",
        "khaos-pw",
        khaos_state(),
        faults=Faults(lost_rate=0.25, seed=5),
        client=client,
        source_reference_key=channel.source_reference_key,
    )
    sim.load_config()
    url = sim.urls["CReturnDownload"]
    assert url.startswith(first)

    made = Counter()

    def make(maker: str) -> None:
        """Returns made a batch (one transaction) at a time, as the task nodes make them."""
        try:
            for n in range(BATCHES):
                prefix = f"{maker}{n:02d}-"
                made[maker] += generate(rebound, BATCH, prefix=prefix, batch=BATCH, seed=n)
                time.sleep(0.1)  # Khaos catches up now and then, and waits for more
        finally:
            connections.close_all()

    # Two makers: their transactions overlap, so rows are committed out of id order.
    makers = [threading.Thread(target=make, args=(name,)) for name in ("W", "X")]
    for maker in makers:
        maker.start()

    def all_made() -> None:
        for maker in makers:
            maker.join()
        making.set()

    threading.Thread(target=all_made).start()
    try:
        for polls in range(2000):
            done = making.is_set()  # nothing is made after this poll
            node = (first, second)[polls % 2]  # the balancer's turn
            sim.urls["CReturnDownload"] = node + url.removeprefix(first)
            racer = None
            if polls % 4 == 3:
                # The same token to the other node at the same moment (a retry while the
                # first is still in flight): answered, and its answer dropped.
                other = (second, first)[polls % 2] + url.removeprefix(first)
                headers = {"Sirion-Continuation": sim.tokens["returns"], RACED: "1"}
                racer = threading.Thread(
                    target=racing.get, args=(other,), kwargs={"headers": headers}
                )
                racer.start()
            sim.poll_returns(max_polls=1)
            if racer is not None:
                racer.join()
            returns = Posting.objects.filter(kind=PostingKind.RETURN)
            numbered = returns.filter(serve_seq__isnull=False).count()
            caught_up = _number(sim.tokens["returns"]) == numbered
            if done and caught_up and not returns.filter(state=PostingState.READY).exists():
                break
            if pages[-1].asked == pages[-1].answered:
                time.sleep(0.05)  # nothing new: Khaos waits a moment before its next poll
        else:
            pytest.fail("Khaos never caught up")
    finally:
        for maker in makers:
            maker.join(timeout=120)
        client.close()
        racing.close()

    total = MADE_BEFORE + sum(made.values())
    assert total == MADE_BEFORE + 2 * BATCHES * BATCH
    postings = list(Posting.objects.filter(kind=PostingKind.RETURN).order_by("serve_seq"))
    # Numbered 1..N with none skipped; imported once each, in the order they were numbered.
    assert [p.serve_seq for p in postings] == list(range(1, total + 1))
    assert list(sim.state.returns) == [p.associated_ref for p in postings]
    assert sim.state.duplicates_refused == 0 and sim.state.refused == {}
    # A document went out twice only in the repeat of a page whose answer was lost.
    assert refused == []
    # A lost answer: Khaos asked again with the same token (a page with documents).
    polled = [page for page in pages if not page.raced]
    lost = [
        i
        for i, page in enumerate(polled[:-1])
        if polled[i + 1].asked == page.asked and page.answered != page.asked
    ]
    assert lost, "no answer was lost: the repeat was not exercised"
    expected = Counter()
    for page in pages:
        expected.update(range(page.asked + 1, page.answered + 1))
    assert {p.serve_seq: p.download_count for p in postings} == dict(expected)
    assert max(expected.values()) >= 2
    # Pages were served while returns were still being made, and after; some raced.
    assert {page.while_making for page in pages} == {True, False}
    assert any(page.raced and page.answered > page.asked for page in pages)
    # Both nodes answered, and a lost answer's repeat went to the other node.
    assert {page.port for page in polled} == set(web_pair)
    assert any(polled[i + 1].port != polled[i].port for i in lost)
