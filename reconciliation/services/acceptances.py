"""Accepting (writing off) a difference, and reopening it: Odoo's write-off button.

An acceptance names the row by its key (``cause:id``) and holds the amount accepted:
it holds only while the row's amount is still that amount (``differences`` reads it so),
so a difference whose amount moves is open again without anyone reopening it.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from reconciliation.models import Acceptance
from reconciliation.services import differences

logger = logging.getLogger(__name__)


class NotAcceptable(ValueError):
    """The key names no open difference now, or the acceptance lacks what it needs."""


def _who(by) -> tuple[str, object | None]:
    """The name stored, and the user when a person accepts (``by`` a user or a name)."""
    if by is None:
        raise NotAcceptable("Say who accepts the difference.")
    if isinstance(by, str):
        return by.strip()[:150], None
    return by.get_username()[:150], by


def accept(key: str, *, by, note: str) -> Acceptance:
    """Accept the open difference ``key`` at its amount as it is now.

    ``by`` is the user (or, for a task, its name); a person must say why (``note``).
    Raises NotAcceptable when the key is not a current open difference.
    """
    name, user = _who(by)
    note = (note or "").strip()
    if user is not None and not note:
        raise NotAcceptable("Say why the difference is accepted: a note is required.")
    if len(note) > 500:
        raise NotAcceptable("The note is longer than 500 characters.")
    try:
        cause, object_id = differences.parse_key(key)
    except ValueError as error:
        raise NotAcceptable(str(error)) from None
    with transaction.atomic():
        row = (
            differences.SOURCES[cause]
            .queryset(None, None)
            .filter(pk=object_id)
            .values("d_platform", "d_currency", "d_amount", "d_accepted")
            .first()
        )
        if row is None:
            raise NotAcceptable(
                f"{key} is not a difference now (matched, settled, within tolerance, or "
                "no such row): nothing to accept."
            )
        if row["d_accepted"]:
            raise NotAcceptable(f"{key} is already accepted at {row['d_amount']}.")
        # A stored acceptance of another amount no longer holds: this one replaces it.
        Acceptance.objects.filter(cause=cause, object_id=object_id).exclude(
            amount=row["d_amount"]
        ).delete()
        try:
            with transaction.atomic():
                acceptance = Acceptance.objects.create(
                    cause=cause,
                    object_id=object_id,
                    platform=row["d_platform"] or "",
                    currency=row["d_currency"] or "",
                    amount=row["d_amount"],
                    accepted_by=name,
                    accepted_by_user=user,
                    accepted_at=timezone.now(),
                    note=note,
                )
        except IntegrityError:
            raise NotAcceptable(f"{key} was accepted meanwhile by someone else.") from None
    logger.info("Difference %s accepted at %s by %s: %s", key, row["d_amount"], name, note)
    return acceptance


def reopen(acceptance: Acceptance, *, by) -> bool:
    """Undo an acceptance: the difference is open again. False if it was already gone."""
    name, _ = _who(by)
    deleted, _ = Acceptance.objects.filter(pk=acceptance.pk).delete()
    if deleted:
        logger.info(
            "Difference %s reopened by %s (accepted at %s by %s)",
            acceptance.key,
            name,
            acceptance.amount,
            acceptance.accepted_by,
        )
    return bool(deleted)
