"""The dashboard's figures: each one aggregate query, whatever the number of rows.

A feed is **stale** (shown red) when it is enabled and neither a webhook nor a poll has
arrived for three times its poll interval, or for a day where polling is off (a
connection that polls every 15 minutes is stale after 45 quiet minutes). The Khaos
channel is stale when Khaos has not downloaded for three times its download frequency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection as db
from django.db.models import Count, Min, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from returns_hub.choices import (
    ExceptionKind,
    ExceptionStatus,
    InboxSource,
    InboxStatus,
    PostingKind,
    PostingState,
    Team,
)
from returns_hub.models import (
    ExceptionCase,
    InboxDelivery,
    KhaosChannel,
    KhaosUpload,
    PlatformConnection,
    Posting,
    Return,
)

STALE_AFTER_INTERVALS = 3
# A connection that does not poll is still expected to hear from its platform daily.
STALE_WITHOUT_POLL = timedelta(days=1)
CHART_DAYS = 14
BACKLOG_STATUSES = (InboxStatus.RECEIVED, InboxStatus.FAILED, InboxStatus.DEAD)


def connections_health(now: datetime) -> list[PlatformConnection]:
    """Every connection with its last webhook and whether its feed is stale (one query)."""
    last_webhook = (
        InboxDelivery.objects.filter(connection=OuterRef("pk"), source=InboxSource.WEBHOOK)
        .order_by("-id")
        .values("received_at")[:1]
    )
    connections = list(
        PlatformConnection.objects.annotate(last_webhook_at=Subquery(last_webhook)).order_by(
            "platform", "slug"
        )
    )
    for connection in connections:
        heard = [at for at in (connection.last_webhook_at, connection.last_polled_at) if at]
        connection.last_heard_at = max(heard) if heard else None
        interval = (
            timedelta(minutes=connection.poll_minutes * STALE_AFTER_INTERVALS)
            if connection.poll_minutes
            else STALE_WITHOUT_POLL
        )
        connection.stale_after = interval
        connection.stale = connection.enabled and (
            connection.last_heard_at is None or now - connection.last_heard_at > interval
        )
    return connections


def channels_health(now: datetime) -> list[KhaosChannel]:
    """Every Khaos channel with its last download and upload (one query)."""
    last_download = (
        Posting.objects.filter(channel=OuterRef("pk"), last_downloaded_at__isnull=False)
        .order_by("-last_downloaded_at")
        .values("last_downloaded_at")[:1]
    )
    last_upload = (
        KhaosUpload.objects.filter(channel=OuterRef("pk")).order_by("-id").values("received_at")[:1]
    )
    channels = list(
        KhaosChannel.objects.annotate(
            last_download_at=Subquery(last_download), last_upload_at=Subquery(last_upload)
        ).order_by("slug")
    )
    for channel in channels:
        interval = timedelta(minutes=channel.download_frequency_minutes * STALE_AFTER_INTERVALS)
        channel.stale_after = interval
        channel.stale = (
            channel.last_download_at is None or now - channel.last_download_at > interval
        )
    return channels


def inbox_backlog() -> dict[str, int]:
    """Deliveries waiting, failing or dead, by status (one query on the status index)."""
    counts = dict(
        InboxDelivery.objects.filter(status__in=BACKLOG_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in BACKLOG_STATUSES}


# Counting every confirmed posting would read a million rows on each visit: above this a
# state shows "10,000+". Each state then costs at most CAP rows of its (state, -id) index.
POSTING_COUNT_CAP = 10_000


def postings_by_state() -> list[tuple[str, str, int, bool]]:
    """(state, label, count, capped) for every posting state, in one query whose cost is
    bounded whatever the table's size; ``capped``: there are more than the count."""
    states = [state for state, _ in PostingState.choices]
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.state, (SELECT count(*) FROM (
                SELECT 1 FROM {Posting._meta.db_table} p WHERE p.state = s.state LIMIT %s
            ) AS up_to_cap)
            FROM unnest(%s::text[]) AS s(state)
            """,
            [POSTING_COUNT_CAP + 1, states],
        )
        counts = dict(cursor.fetchall())
    return [
        (state, label, min(counts[state], POSTING_COUNT_CAP), counts[state] > POSTING_COUNT_CAP)
        for state, label in PostingState.choices
    ]


@dataclass
class OwnerExceptions:
    owner: str
    label: str
    count: int = 0
    oldest_at: datetime | None = None
    kinds: list[dict] = field(default_factory=list)


def open_exceptions() -> list[OwnerExceptions]:
    """Open exceptions by owner and kind, with the oldest's age (one query)."""
    rows = (
        ExceptionCase.objects.filter(status=ExceptionStatus.OPEN)
        .values("owner", "kind")
        .annotate(n=Count("id"), oldest_at=Min("created_at"))
        .order_by("owner", "kind")
    )
    kind_labels = dict(ExceptionKind.choices)
    owners = {team: OwnerExceptions(team, label) for team, label in Team.choices}
    for row in rows:
        owner = owners.setdefault(row["owner"], OwnerExceptions(row["owner"], row["owner"]))
        owner.count += row["n"]
        if owner.oldest_at is None or row["oldest_at"] < owner.oldest_at:
            owner.oldest_at = row["oldest_at"]
        owner.kinds.append(
            {
                "kind": row["kind"],
                "label": kind_labels.get(row["kind"], row["kind"]),
                "count": row["n"],
                "oldest_at": row["oldest_at"],
            }
        )
    return list(owners.values())


@dataclass(frozen=True)
class DayCount:
    day: date
    returns: int
    postings: int


def per_day(today: date) -> list[DayCount]:
    """Returns made and return postings made per day, the last CHART_DAYS days (two
    queries, on the indexes by created_at)."""
    first = today - timedelta(days=CHART_DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    zone = timezone.get_current_timezone()

    def counts(queryset) -> dict[date, int]:
        return dict(
            queryset.filter(created_at__gte=since)
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values_list("day")
            .annotate(n=Count("id"))
            .values_list("day", "n")
        )

    returns = counts(Return.objects.all())
    postings = counts(Posting.objects.filter(kind=PostingKind.RETURN))
    days = [first + timedelta(days=offset) for offset in range(CHART_DAYS)]
    return [DayCount(day, returns.get(day, 0), postings.get(day, 0)) for day in days]
