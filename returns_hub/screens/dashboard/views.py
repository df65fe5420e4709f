"""/ : the health of every feed and of the Khaos channel, and what each team has waiting.

Every team sees it (a login is all it needs). Each figure links to the list behind it;
every figure is one aggregate query, so the page costs the same whatever is stored.
"""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from returns_hub.choices import InboxStatus
from returns_hub.screens.dashboard import chart, health, links


@require_GET
def home(request):
    now = timezone.now()
    connections = health.connections_health(now)
    for connection in connections:
        connection.failed_url = links.inbox(InboxStatus.FAILED, connection.slug)
    channels = health.channels_health(now)
    backlog = [
        (status, InboxStatus(status).label, count, links.inbox(status))
        for status, count in health.inbox_backlog().items()
    ]
    postings = [
        (state, label, count, capped, links.postings(state))
        for state, label, count, capped in health.postings_by_state()
    ]
    owners = health.open_exceptions()
    for owner in owners:
        owner.url = links.exceptions(owner=owner.owner)
        for kind in owner.kinds:
            kind["url"] = links.exceptions(owner=owner.owner, kind=kind["kind"])
    days = health.per_day(timezone.localdate(now))
    context = {
        "now": now,
        "connections": connections,
        "stale_count": sum(1 for c in connections if c.stale) + sum(1 for c in channels if c.stale),
        "channels": channels,
        "backlog": backlog,
        "postings": postings,
        "owners": owners,
        "open_total": sum(owner.count for owner in owners),
        "exceptions_url": links.exceptions(),
        "connections_url": links.connections(),
        "uploads_url": links.khaos_uploads(),
        "days": days,
        "chart": chart.per_day(days, day_url=links.returns_made_on),
        "stale_rule": (
            f"A feed is stale when neither a webhook nor a poll has arrived for "
            f"{health.STALE_AFTER_INTERVALS} times its poll interval (a day where polling is off); "
            f"the Khaos channel when Khaos has not downloaded for "
            f"{health.STALE_AFTER_INTERVALS} times its download frequency."
        ),
    }
    return render(request, "returns_hub/dashboard/home.html", context)
