"""What the soak proves once the hub is quiet: nothing lost, nothing doubled, nothing
held in silence. Each check is a name, a verdict and the figures behind it."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count
from django_q.models import Failure

from connectors.base.simulator import PlatformSimulator
from connectors.khaos.simulator import KhaosSimulator
from returns_hub.choices import InboxStatus, PostingKind
from returns_hub.models import InboxDelivery, Posting, Return
from returns_hub.services import invariants

ZERO = Decimal("0.00")
DONE = (InboxStatus.PROCESSED, InboxStatus.IGNORED)


def order_refs(platform: str) -> dict[str, str]:
    """The hub's AssociatedRef of each return of the platform's demo connection, by the
    platform's order number."""
    rows = Return.objects.filter(connection__slug=f"demo-{platform}").values_list(
        "order_ref", "associated_ref"
    )
    return {order.lstrip("#"): ref for order, ref in rows}


def expected(sims: dict[str, PlatformSimulator]) -> tuple[dict, dict, list]:
    """(ref → (platform, credit)) for every return that should reach Khaos, (ref →
    platform) for the cancelled and expired ones the hub knows, and the returns the hub
    does not know at all."""
    due, ended, unknown = {}, {}, []
    for platform, sim in sims.items():
        refs = order_refs(platform)
        for ret in sim.returns.values():
            ref = refs.get(ret.order)
            if ret.ending:
                if ref:
                    ended[ref] = platform
            elif ref is None:
                unknown.append(f"{platform} {ret.id}")
            else:
                due[ref] = (platform, ret.credit)
    return due, ended, unknown


def credited(khaos: KhaosSimulator, refs) -> dict[str, Decimal]:
    """What Khaos credits for each of ``refs``: its sales return lines' gross."""
    return {
        ref: sum((gross * qty for _, qty, _, gross in khaos.state.returns[ref].lines), ZERO)
        for ref in refs
    }


def failures(restart_window: tuple[float, float] | None) -> dict:
    """django-q Failure rows for the hub's tasks: each explained by a fault (the database
    restart) and redone since, or not."""
    rows = list(Failure.objects.values("func", "args", "stopped", "result"))
    explained, unexplained, not_redone = 0, [], []
    for row in rows:
        stopped = row["stopped"].timestamp()
        in_restart = restart_window and restart_window[0] - 2 <= stopped <= restart_window[1] + 30
        if not in_restart:
            unexplained.append(f"{row['func']}{tuple(row['args'] or ())}: {row['result'][:200]}")
            continue
        explained += 1
        if row["func"].endswith("process_delivery"):
            delivery = InboxDelivery.objects.filter(pk=row["args"][0]).first()
            if delivery is None or delivery.status not in DONE:
                not_redone.append(f"delivery {row['args'][0]}")
    return {
        "total": len(rows),
        "during_restart": explained,
        "unexplained": unexplained[:20],
        "not_redone": not_redone[:20],
    }


def killed_task_redone(killed: str) -> bool:
    """The delivery whose task was killed mid-way was processed all the same (its task
    handed out again after Q_RETRY, or the inbox sweep)."""
    found = re.search(r"process-delivery-(\d+)", killed)
    if not found:
        return bool(killed)  # another task: redone if the rest of the checks hold
    return InboxDelivery.objects.filter(pk=int(found[1]), status__in=DONE).exists()


def run(
    sims: dict[str, PlatformSimulator],
    khaos: KhaosSimulator,
    baseline: set[str],
    restart_window: tuple[float, float] | None,
    killed: str = "",
) -> dict:
    due, ended, unknown = expected(sims)
    in_khaos = set(khaos.state.returns) - baseline
    missing = sorted(set(due) - in_khaos)
    extra = sorted(in_khaos - set(due))
    ended_in_khaos = sorted(set(ended) & in_khaos)

    # Money: per platform and overall, to the penny (Decimal throughout).
    got = credited(khaos, in_khaos & set(due))
    want_by, got_by = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for ref, (platform, credit) in due.items():
        want_by[platform] += credit
        got_by[platform] += got.get(ref, ZERO)
    totals = {p: {"expected": str(want_by[p]), "credited": str(got_by[p])} for p in sorted(want_by)}
    overall = {
        "expected": str(sum(want_by.values(), ZERO)),
        "credited": str(sum(got_by.values(), ZERO)),
    }
    imported = khaos.state.counters["SR"] - 7000  # every sales return Khaos raised
    imports_once = imported == len(khaos.state.returns)

    inbox = dict(
        InboxDelivery.objects.exclude(status__in=DONE)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    postings = dict(
        Posting.objects.filter(kind=PostingKind.RETURN)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    silence = invariants.nothing_held_in_silence()
    failed = failures(restart_window)
    checks = {
        "every_return_in_khaos_once": not missing and not extra and not unknown,
        "cancelled_and_expired_never_in_khaos": not ended_in_khaos,
        "credited_equals_expected": all(
            t["expected"] == t["credited"] for t in [*totals.values(), overall]
        ),
        "khaos_refused_nothing": not khaos.state.refused and not any(khaos.failed.values()),
        "khaos_imported_nothing_twice": imports_once,
        "nothing_held_in_silence": not any(silence.values()),
        "inbox_all_processed": not inbox,
        "no_unexplained_task_failures": not failed["unexplained"] and not failed["not_redone"],
        "killed_task_redone": killed_task_redone(killed),
    }
    return {
        "checks": checks,
        "returns": {
            "due_in_khaos": len(due),
            "cancelled_or_expired": sum(
                1 for sim in sims.values() for r in sim.returns.values() if r.ending
            ),
            "in_khaos": len(in_khaos),
            "missing": missing[:20],
            "extra": extra[:20],
            "unknown_to_hub": unknown[:20],
            "ended_in_khaos": ended_in_khaos[:20],
            "postings": postings,
        },
        "totals": {"by_platform": totals, "overall": overall},
        "khaos": {
            "sales_returns": len(khaos.state.returns),
            "imported": imported,
            "duplicates_refused": khaos.state.duplicates_refused,
            "refused_now": dict(list(khaos.state.refused.items())[:20]),
            "credit_notes": len(khaos.state.credit_notes),
        },
        "inbox_left": inbox,
        "held_in_silence": {k: v[:10] for k, v in silence.items()},
        "task_failures": failed,
    }
