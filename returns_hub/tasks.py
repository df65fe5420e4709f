"""Domain tasks for the cluster. Each is idempotent and safe to run twice."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from returns_hub.choices import Cause, ExceptionKind, ExceptionStatus, PostingState
from returns_hub.models import ExceptionCase, Posting, Return
from returns_hub.services import engine
from returns_hub.services.exceptions import open_exception

logger = logging.getLogger(__name__)
BATCH = 500


def reevaluate(return_ids: list[int]) -> int:
    """Evaluate these returns again, each under its own row lock."""
    done = 0
    for return_id in return_ids:
        with transaction.atomic():
            ret = (
                Return.objects.select_related("connection__khaos_channel")
                .select_for_update(of=("self",))
                .filter(pk=return_id)
                .first()
            )
            if ret is not None:
                engine.evaluate(ret, cause=Cause.TASK)
                done += 1
    return done


def reevaluate_held(kinds: list[str]) -> int:
    """Every return held by an open exception of these kinds moves on if it can."""
    ids = list(
        ExceptionCase.objects.filter(
            status=ExceptionStatus.OPEN, kind__in=kinds, return_ref__isnull=False
        )
        .order_by("return_ref_id")
        .values_list("return_ref_id", flat=True)
        .distinct()
    )
    for start in range(0, len(ids), BATCH):
        reevaluate(ids[start : start + BATCH])
    logger.info("re-evaluated held returns", extra={"kinds": kinds, "returns": len(ids)})
    return len(ids)


def flag_unconfirmed_postings() -> int:
    """A posting Khaos has not confirmed by its deadline becomes posting_unconfirmed."""
    overdue = Posting.objects.filter(
        state__in=[PostingState.READY, PostingState.DOWNLOADED], confirm_by__lt=timezone.now()
    ).select_related("return_ref")
    opened = 0
    for posting in overdue.iterator(chunk_size=BATCH):
        _, created = open_exception(
            ExceptionKind.POSTING_UNCONFIRMED,
            cause_key=f"posting_unconfirmed:{posting.pk}",
            message=f"{posting.get_kind_display()} {posting.associated_ref} was made ready on "
            f"{posting.ready_at:%d/%m/%Y} and Khaos has not confirmed it "
            f"(downloaded {posting.download_count} time(s)).",
            return_ref=posting.return_ref,
            connection=posting.return_ref.connection,
        )
        opened += created
    return opened
