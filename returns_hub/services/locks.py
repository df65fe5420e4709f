"""Row locks, taken in one order everywhere so two workers never deadlock.

The order: a return's row first, then its units, postings and exceptions.
Every writer of a return's facts (platform events, people, tasks, Khaos's
order statuses) holds its return's lock for the length of its transaction,
so they touch one return one at a time. A Khaos channel's row, locked while a
page is served, is taken alone: serving locks postings, never a return.
"""

from __future__ import annotations

from returns_hub.models import PlatformConnection, Return


def _locked():
    # FOR NO KEY UPDATE: it excludes every other writer of the return, but not the
    # key-share locks PostgreSQL takes to check a foreign key to it, so a Khaos page
    # whose commit checks its postings' returns never waits on a return being worked.
    return Return.objects.select_related("connection__khaos_channel").select_for_update(
        of=("self",), no_key=True
    )


def lock_return(ret: Return | int) -> Return:
    """The return, re-read under its row lock (inside a transaction)."""
    return _locked().get(pk=ret.pk if isinstance(ret, Return) else ret)


def lock_return_if_exists(pk: int) -> Return | None:
    return _locked().filter(pk=pk).first()


def lock_free_returns(pks) -> dict[int, Return]:
    """Those of these returns no other worker holds, under their row locks, by id. A
    return being worked is left out, never waited for: a task that works many returns in
    one transaction then cannot deadlock with a writer that holds one and wants another."""
    locked = _locked().select_for_update(of=("self",), no_key=True, skip_locked=True)
    return {ret.pk: ret for ret in locked.filter(pk__in=list(pks)).order_by("pk")}


def lock_or_create_return(
    connection: PlatformConnection, external_id: str, defaults: dict
) -> tuple[Return, bool]:
    """The platform's return under its row lock, inserted first if it was not there.

    (return, looked new): a racing delivery may have inserted it first, so "new"
    is only a hint; whether anything was applied to it yet is the caller's to ask.

    A concurrent delivery of the same new return inserts nothing twice: the
    insert ignores the conflict and both then wait on the one row's lock.
    """
    ret = _locked().filter(connection=connection, external_id=external_id).first()
    if ret is not None:
        return ret, False  # the common case: one query, and the row is ours
    Return.objects.bulk_create(
        [Return(connection=connection, external_id=external_id, **defaults)],
        ignore_conflicts=True,
    )
    return _locked().get(connection=connection, external_id=external_id), True
