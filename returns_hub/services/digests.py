"""Each team's daily digest of its new and ageing exceptions: an email and a chat summary.

``build`` reads the database only (bounded: counts in SQL, at most ``LIST_LIMIT``
cases listed per section). ``send_due`` is what the hourly ``send-digests``
schedule runs: a team's digest goes once per local day, at or after its
``send_hour``. The day is claimed with a conditional update (``last_sent_on`` is
not today → today), so two workers running at once send it once.

A day with nothing new and nothing ageing still sends a short "nothing new"
email: a silent day and a broken digest must not look the same.

The email failing releases the day's claim (the next hourly run tries again: at
most one attempt an hour, never a storm). The chat webhook failing is recorded
in ``last_result`` and logged; the email has gone, so the day stays sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count, Q
from django.utils import timezone

from returns_hub.choices import ExceptionKind, ExceptionStatus, Team
from returns_hub.models import ExceptionCase, TeamDigest

logger = logging.getLogger(__name__)

LIST_LIMIT = 50  # cases listed per section; the counts are always complete
MESSAGE_CHARS = 160
WEBHOOK_TIMEOUT = 10.0
DEFAULT_WINDOW = dt.timedelta(hours=24)


@dataclass
class CaseLine:
    id: int
    kind: str
    status: str
    message: str
    created_at: dt.datetime
    age_days: int

    def text(self) -> str:
        kind = ExceptionKind(self.kind).label if self.kind in ExceptionKind.values else self.kind
        return f"  #{self.id} {kind} ({self.status}, {self.age_days}d): {self.message}"


@dataclass
class Digest:
    team: str
    now: dt.datetime
    since: dt.datetime
    ageing_days: int
    new: list[CaseLine] = field(default_factory=list)
    new_count: int = 0
    ageing: list[CaseLine] = field(default_factory=list)
    ageing_count: int = 0
    open_count: int = 0
    new_by_kind: dict[str, int] = field(default_factory=dict)
    open_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def team_label(self) -> str:
        return Team(self.team).label

    @property
    def nothing(self) -> bool:
        return not self.new_count and not self.ageing_count

    @property
    def subject(self) -> str:
        day = timezone.localtime(self.now).date().isoformat()
        if self.nothing:
            return f"[Returns hub] {self.team_label} digest {day}: nothing new"
        return (
            f"[Returns hub] {self.team_label} digest {day}: "
            f"{self.new_count} new, {self.ageing_count} ageing"
        )

    @property
    def body(self) -> str:
        local_since = timezone.localtime(self.since).strftime("%Y-%m-%d %H:%M")
        lines = [
            f"{self.team_label} exceptions digest for {timezone.localtime(self.now):%A %d %B %Y}.",
            "",
        ]
        if self.nothing:
            lines.append(
                f"Nothing new since {local_since} and nothing open for more than "
                f"{self.ageing_days} day(s)."
            )
        else:
            lines.append(f"New since {local_since}: {self.new_count}")
            if self.new_by_kind:
                lines.append(f"  by kind: {_kinds(self.new_by_kind)}")
            lines.extend(line.text() for line in self.new)
            if self.new_count > len(self.new):
                lines.append(f"  … and {self.new_count - len(self.new)} more")
            lines += ["", f"Ageing (open more than {self.ageing_days} day(s)): {self.ageing_count}"]
            lines.extend(line.text() for line in self.ageing)
            if self.ageing_count > len(self.ageing):
                lines.append(f"  … and {self.ageing_count - len(self.ageing)} more")
        lines += ["", f"Open in total: {self.open_count}"]
        if self.open_by_kind:
            lines.append(f"  by kind: {_kinds(self.open_by_kind)}")
        return "\n".join(lines) + "\n"

    def summary(self) -> dict:
        """The JSON posted to the chat webhook (``text`` is what Slack and Teams show)."""
        return {
            "text": self.subject.removeprefix("[Returns hub] ")
            + f" ({self.open_count} open in total)",
            "team": self.team,
            "date": timezone.localtime(self.now).date().isoformat(),
            "new": self.new_count,
            "ageing": self.ageing_count,
            "open": self.open_count,
            "ageing_days": self.ageing_days,
            "new_by_kind": self.new_by_kind,
            "open_by_kind": self.open_by_kind,
        }


def _kinds(counts: dict[str, int]) -> str:
    labels = dict(ExceptionKind.choices)
    return ", ".join(f"{labels.get(kind, kind)} {n}" for kind, n in counts.items())


def _lines(queryset, now: dt.datetime) -> list[CaseLine]:
    rows = queryset.values_list("id", "kind", "status", "message", "created_at")[:LIST_LIMIT]
    return [
        CaseLine(
            id=case_id,
            kind=kind,
            status=status,
            message=" ".join(message.split())[:MESSAGE_CHARS],
            created_at=created,
            age_days=(now - created).days,
        )
        for case_id, kind, status, message, created in rows
    ]


def _by_kind(queryset) -> dict[str, int]:
    rows = queryset.order_by().values("kind").annotate(n=Count("id")).values_list("kind", "n")
    return dict(sorted(rows, key=lambda row: (-row[1], row[0])))


def build(
    team: str, *, now: dt.datetime, since: dt.datetime | None = None, ageing_days: int = 3
) -> Digest:
    """The team's digest at ``now``: cases opened since ``since`` (24 h by default) and its
    cases open for more than ``ageing_days``. Reads only; a bounded number of queries."""
    since = since or now - DEFAULT_WINDOW
    owned = ExceptionCase.objects.filter(owner=team)
    new = owned.filter(created_at__gt=since, created_at__lte=now)
    open_cases = owned.filter(status=ExceptionStatus.OPEN)
    ageing = open_cases.filter(created_at__lt=now - dt.timedelta(days=ageing_days))
    counts = owned.aggregate(
        new=Count("id", filter=Q(created_at__gt=since, created_at__lte=now)),
        ageing=Count(
            "id",
            filter=Q(
                status=ExceptionStatus.OPEN,
                created_at__lt=now - dt.timedelta(days=ageing_days),
            ),
        ),
        open=Count("id", filter=Q(status=ExceptionStatus.OPEN)),
    )
    return Digest(
        team=team,
        now=now,
        since=since,
        ageing_days=ageing_days,
        new=_lines(new.order_by("-created_at", "-id"), now),
        new_count=counts["new"],
        ageing=_lines(ageing.order_by("created_at", "id"), now),
        ageing_count=counts["ageing"],
        open_count=counts["open"],
        new_by_kind=_by_kind(new),
        open_by_kind=_by_kind(open_cases),
    )


def recipients_for(config: TeamDigest) -> list[str]:
    """The configured addresses, then (if asked) the team's active members' emails."""
    try:
        addresses = config.recipient_list()
    except ValidationError:
        addresses = []  # saved around the admin's validation: send to the members only
        logger.warning("digest recipients invalid", extra={"team": config.team})
    if config.include_group_members:
        members = (
            get_user_model()
            .objects.filter(groups__name=config.team, is_active=True)
            .exclude(email="")
            .order_by("email")
            .values_list("email", flat=True)
            .distinct()
        )
        seen = {address.lower() for address in addresses}
        for email in members:
            if email.lower() not in seen:
                seen.add(email.lower())
                addresses.append(email)
    return addresses


def post_to_chat(url: str, payload: dict) -> str:
    """POST the summary; a short result. Raises ``httpx.HTTPError`` on failure."""
    response = httpx.post(url, json=payload, timeout=WEBHOOK_TIMEOUT, follow_redirects=False)
    response.raise_for_status()
    return f"chat webhook: ok ({response.status_code})"


def _webhook_error(error: Exception) -> str:
    """A webhook failure without its URL: an incoming webhook's URL is its secret."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


@dataclass
class Outcome:
    team: str
    sent: bool
    result: str
    recipients: list[str] = field(default_factory=list)


def _claim(config: TeamDigest, today: dt.date, now: dt.datetime, *, force: bool) -> bool:
    rows = TeamDigest.objects.filter(pk=config.pk, enabled=True)
    if not force:
        rows = rows.exclude(last_sent_on=today)
    return rows.update(last_sent_on=today, last_sent_at=now) == 1


def send(config: TeamDigest, *, now: dt.datetime | None = None, force: bool = False) -> Outcome:
    """Send this team's digest if it is due (or ``force``); never raises."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    today = local.date()
    if not config.enabled:
        return Outcome(config.team, False, "disabled")
    if not force and config.last_sent_on == today:
        return Outcome(config.team, False, "already sent today")
    if not force and local.hour < config.send_hour:
        return Outcome(config.team, False, f"not due before {config.send_hour:02d}:00")
    previous_on, previous_at = config.last_sent_on, config.last_sent_at
    if not _claim(config, today, now, force=force):
        return Outcome(config.team, False, "already sent today")
    try:
        digest = build(config.team, now=now, since=previous_at, ageing_days=config.ageing_days)
        to = recipients_for(config)
        parts = []
        if to:
            EmailMultiAlternatives(
                digest.subject, digest.body, settings.DEFAULT_FROM_EMAIL, to=to
            ).send()
            parts.append(f"emailed {len(to)} recipient(s)")
        else:
            parts.append("no email recipients")
    except Exception as error:
        # Give the day back: the next hourly run tries again (one attempt an hour).
        TeamDigest.objects.filter(pk=config.pk, last_sent_on=today, last_sent_at=now).update(
            last_sent_on=previous_on, last_sent_at=previous_at
        )
        result = f"{local:%Y-%m-%d %H:%M} failed: {type(error).__name__}: {error}"[:1000]
        logger.exception("digest not sent", extra={"team": config.team})
        TeamDigest.objects.filter(pk=config.pk).update(last_result=result)
        return Outcome(config.team, False, result)
    parts.append(f"{digest.new_count} new, {digest.ageing_count} ageing")
    if config.chat_webhook_url:
        try:
            parts.append(post_to_chat(config.chat_webhook_url, digest.summary()))
        except Exception as error:
            reason = _webhook_error(error)
            parts.append(f"chat webhook failed: {reason}")
            logger.warning(
                "digest chat webhook failed", extra={"team": config.team, "error": reason}
            )
    result = f"{local:%Y-%m-%d %H:%M} " + "; ".join(parts)
    TeamDigest.objects.filter(pk=config.pk).update(last_result=result)
    return Outcome(config.team, True, result, to)


def send_due(
    *, now: dt.datetime | None = None, team: str | None = None, force: bool = False
) -> list[Outcome]:
    """Every enabled team's digest that is due (or ``team``'s alone), each on its own."""
    configs = TeamDigest.objects.order_by("team")
    configs = configs.filter(team=team) if team else configs.filter(enabled=True)
    outcomes = [send(config, now=now, force=force) for config in configs]
    sent = Counter(outcome.sent for outcome in outcomes)
    logger.info("digests", extra={"sent": sent[True], "skipped": sent[False]})
    return outcomes
