"""The write-back tasks (django-q2): tell platforms the hub's grades.

``send_due`` runs every minute (schedule ``send-write-backs``) and sends every row
that is due: new ones, and failed ones whose backoff has passed. ``send_one`` is
queued once a row is committed (``returns_hub.services.writeback.enqueue``), so a
grade normally reaches the platform within seconds. Both claim a row before sending
it, so running either twice, or both at once, sends a row once.
"""

from __future__ import annotations

from connectors.base import writeback


def send_due() -> str:
    """Every due row, within one short run."""
    return writeback.send_due()


def send_one(row_id: int) -> str:
    """One row, if it is still due."""
    return writeback.send_one(row_id)
