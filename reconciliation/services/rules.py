"""Finance's reconciliation rules, as Odoo's reconciliation models: ordered, first fit wins.

For a difference's cause, platform and currency, the rules are read by (sequence, id)
and the first active one that fits decides (a blank platform or currency fits any):

- its ``tolerance`` (value causes only): a difference no larger than it is no difference;
  blank falls back to the connection's ``value_tolerance``, else the hub's
  ``VALUE_TOLERANCE``;
- its ``auto_accept_up_to``: an open difference no larger than it is accepted by the
  rule (``apply_auto_accept``); blank: never accepted automatically.

The same rule is found in SQL (``fitting`` with OuterRefs, inside each cause's queryset,
so a page of rows or a period's totals stays one query per cause) and in Python
(``resolve``, for one difference).
"""

from __future__ import annotations

import logging

from django.db import models, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Abs
from django.utils import timezone

from reconciliation.models import Acceptance, ReconciliationRule

logger = logging.getLogger(__name__)

# The causes whose amount is a value difference: only these have a tolerance.
BATCH = 1000


def fitting(cause: str, platform, currency) -> models.QuerySet:
    """The active rules fitting a cause, platform and currency, first fit first.

    ``platform`` and ``currency`` are values or expressions (an ``OuterRef`` inside a
    cause's queryset); a None platform (a credit note raised by hand) fits blank only.
    """
    return (
        ReconciliationRule.objects.filter(active=True, cause=cause)
        .filter(Q(platform="") | Q(platform=platform))
        .filter(Q(currency="") | Q(currency=currency))
        .order_by("sequence", "id")
    )


def resolve(cause: str, platform: str | None, currency: str | None) -> ReconciliationRule | None:
    """The rule that decides for one difference, or None."""
    return fitting(cause, platform or "", currency or "").first()


def rule_value(cause: str, column: str, *, platform="d_platform", currency="d_currency"):
    """A subquery giving the deciding rule's ``column`` for each row of a cause's queryset
    (the row's platform and currency are its annotations), NULL when no rule fits."""
    found = fitting(cause, OuterRef(platform), OuterRef(currency)).values(column)[:1]
    field = ReconciliationRule._meta.get_field(column)
    return Subquery(found, output_field=field)


def apply_auto_accept() -> int:
    """Accept every open difference that its rule accepts automatically; the number accepted.

    One query per cause with an auto-accepting rule finds the rows (the rule is chosen
    in SQL, as for the tolerance), and the acceptances are written in bulk. Safe to run
    twice and at once: an acceptance is unique per row, and a clash is skipped.
    """
    # Imported here: the differences build on this module's subqueries.
    from reconciliation.services import differences

    causes = set(
        ReconciliationRule.objects.filter(active=True, auto_accept_up_to__isnull=False)
        .values_list("cause", flat=True)
        .distinct()
    )
    accepted = 0
    now = timezone.now()
    for cause in differences.CAUSE_ORDER:
        if cause not in causes:
            continue
        candidates = (
            differences.SOURCES[cause]
            .queryset(None, None, state=differences.OPEN)
            .annotate(
                d_limit=rule_value(cause, "auto_accept_up_to"),
                d_rule=rule_value(cause, "id"),
                d_size=Abs(F("d_amount")),
            )
            .filter(d_limit__isnull=False, d_size__lte=F("d_limit"))
            .order_by()
        )
        accepted += _accept_in_bulk(cause, candidates, now)
    if accepted:
        logger.info("Reconciliation rules accepted %s difference(s)", accepted)
    return accepted


def _accept_in_bulk(cause: str, candidates: models.QuerySet, now) -> int:
    rows = list(candidates.values_list("pk", "d_platform", "d_currency", "d_amount", "d_rule"))
    if not rows:
        return 0
    names = dict(
        ReconciliationRule.objects.filter(pk__in={row[4] for row in rows}).values_list("pk", "name")
    )
    made = 0
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        with transaction.atomic():
            # An acceptance still stored for an open row is for an amount that has since
            # moved: the rule's acceptance of the amount as it is now replaces it. Only
            # rows still open when this runs are cleared, so a fresh acceptance made
            # meanwhile is kept.
            Acceptance.objects.filter(
                cause=cause,
                object_id__in=candidates.filter(pk__in=[row[0] for row in chunk]).values("pk"),
            ).delete()
            Acceptance.objects.bulk_create(
                [
                    Acceptance(
                        cause=cause,
                        object_id=pk,
                        platform=platform or "",
                        currency=currency or "",
                        amount=amount,
                        rule_id=rule_id,
                        accepted_by=f"rule: {names.get(rule_id, rule_id)}"[:150],
                        accepted_at=now,
                    )
                    for pk, platform, currency, amount, rule_id in chunk
                ],
                ignore_conflicts=True,
            )
            # What this call wrote (a clash skipped is another run's): stamped ``now``.
            made += Acceptance.objects.filter(
                cause=cause, object_id__in=[row[0] for row in chunk], accepted_at=now
            ).count()
    return made
