"""Nothing is held in silence (DESIGN "Exceptions"), as checks anyone can run.

Each function reads the database and returns its violations as sentences (an empty
list: the invariant holds); none writes. The hypothesis state machine
(tests/domain/test_held_in_silence.py) asserts them after every step, and the soak
(``python -m soak``) after thousands of returns went through faults.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from returns_hub import models as m
from returns_hub.choices import ExceptionKind as K
from returns_hub.choices import ExceptionStatus, PostingKind, UnitState
from returns_hub.choices import PostingState as S
from returns_hub.services import engine, postings

OPEN = ExceptionStatus.OPEN
# The engine's kinds that hold a posting (the rest are statements of fact).
HOLDING = engine.ENGINE_KINDS - engine.STATEMENTS


def held_postings_say_why() -> list[str]:
    """(a) every held posting has an open case that holds its return's document."""
    found = []
    for posting in m.Posting.objects.filter(state=S.HELD):
        if posting.kind != PostingKind.RETURN:
            found.append(f"{posting} held past its transaction")
            continue
        cases = m.ExceptionCase.objects.filter(return_ref=posting.return_ref_id)
        holding = [
            c
            for c in cases.filter(status=OPEN, kind__in=HOLDING)
            if not (c.details or {}).get("exchange_id")
        ]
        if not holding:
            found.append(
                f"{posting} is held in silence: "
                + str(list(cases.values_list("kind", "status", "cause_key")))
            )
    return found


def open_cases_are_true(now: datetime | None = None) -> list[str]:
    """(b) every open engine case names a cause the engine still finds."""
    now = now or timezone.now()
    found = []
    cases = m.ExceptionCase.objects.filter(status=OPEN, kind__in=engine.ENGINE_KINDS)
    for return_id in set(cases.values_list("return_ref_id", flat=True)):
        ret = m.Return.objects.select_related("connection__khaos_channel").get(pk=return_id)
        true = set()
        if ret.state not in engine.FINISHED:
            units = ret.units.select_related("product", "khaos_return_reason").order_by("id")
            live = [u for u in units if u.state != UnitState.CANCELLED]
            diagnosis = engine.diagnose(ret, live, posting=postings.return_posting(ret), now=now)
            true = {p.cause_key(ret) for p in diagnosis.problems}
        stale = list(cases.filter(return_ref=ret).exclude(cause_key__in=true))
        if stale:
            found.append(f"{ret} ({ret.state}): open {stale!r} but the engine finds {true}")
    return found


def never_withdrawn_and_served() -> list[str]:
    """(c) a withdrawn posting was never served; one customer return per return."""
    found = []
    both = m.Posting.objects.filter(state=S.WITHDRAWN, first_downloaded_at__isnull=False)
    if both.exists():
        found.append(f"withdrawn after Khaos downloaded them: {list(both)}")
    refs = list(
        m.Posting.objects.filter(kind=PostingKind.RETURN).values_list("return_ref", flat=True)
    )
    if len(refs) != len(set(refs)):
        found.append(f"two customer-return postings for returns {sorted(_twice(refs))}")
    return found


def ignored_never_reopens() -> list[str]:
    """(d) a cause a person ignored is never open again."""
    ignored = m.ExceptionCase.objects.filter(status=ExceptionStatus.IGNORED).values("cause_key")
    again = m.ExceptionCase.objects.filter(status=OPEN, cause_key__in=ignored)
    return [f"ignored causes open again: {list(again)}"] if again.exists() else []


def posting_cases_name_their_posting() -> list[str]:
    """(e) posting_unconfirmed: still outstanding; exchange_cancelled: still cancelled."""
    found = []
    kinds = [K.POSTING_UNCONFIRMED, K.EXCHANGE_CANCELLED]
    for case in m.ExceptionCase.objects.filter(status=OPEN, kind__in=kinds):
        want = postings.OUTSTANDING if case.kind == K.POSTING_UNCONFIRMED else (S.CANCELLED,)
        state = case.posting.state if case.posting_id else None
        if state not in want:
            found.append(f"open {case.cause_key} names a posting that is {state}")
    return found


def nothing_held_in_silence(now: datetime | None = None) -> dict[str, list[str]]:
    """Every invariant by its letter, each with its violations."""
    return {
        "a": held_postings_say_why(),
        "b": open_cases_are_true(now),
        "c": never_withdrawn_and_served(),
        "d": ignored_never_reopens(),
        "e": posting_cases_name_their_posting(),
    }


def _twice(values) -> set:
    seen, twice = set(), set()
    for value in values:
        (twice if value in seen else seen).add(value)
    return twice
