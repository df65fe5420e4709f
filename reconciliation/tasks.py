"""The reconciliation's tasks, as django-q2 runs them: each is safe to run twice."""

from __future__ import annotations


def apply_rules() -> int:
    """Accept the differences finance's rules accept automatically; the number accepted."""
    from reconciliation.services import rules

    return rules.apply_auto_accept()


def build_month_end_pack(pack_id: int) -> None:
    """Write a queued month-end pack (XLSX and CSVs), keeping its progress on the row."""
    from reconciliation.services import month_end_pack

    month_end_pack.build_queued(pack_id)


def requeue_stalled_packs() -> int:
    """Month-end packs whose builder was killed mid-build, handed out again."""
    from reconciliation.services import month_end_pack

    return month_end_pack.requeue_stalled()
