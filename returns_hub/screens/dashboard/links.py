"""Where each dashboard figure leads: the screen list behind it where one exists, else
the API's list with the same filter (the browsable API, signed in by the session)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from returns_hub.screens.exceptions.filtersets import EVERY


def _screen_or_api(screen: str, api: str, query: dict) -> str:
    try:
        base = reverse(screen)
    except NoReverseMatch:
        base = api
    encoded = urlencode(query, doseq=True)
    return f"{base}?{encoded}" if encoded else base


def exceptions(owner: str = "", kind: str = "") -> str:
    """The open cases the figure counted: ``owner``'s team's, or every team's. The queue
    opens on the user's own team when given no owner, so it is told "every team"
    (``EVERY``); the API, which knows no such value, lists every team's without one."""
    try:
        base, owner = reverse("exceptions:index"), owner or EVERY
    except NoReverseMatch:
        base = reverse("exception-list")
    query = {
        "status": "open",
        **({"owner": owner} if owner else {}),
        **({"kind": kind} if kind else {}),
    }
    return f"{base}?{urlencode(query)}"


def connections() -> str:
    return _screen_or_api("connections:index", reverse("connection-list"), {})


def postings(state: str) -> str:
    # No screen lists every posting (/finance/postings/ is finance's, by period).
    return f"{reverse('posting-list')}?{urlencode({'state': state})}"


def inbox(status: str, connection: str = "") -> str:
    query = {"status": status, **({"connection": connection} if connection else {})}
    return f"{reverse('inbox-delivery-list')}?{urlencode(query)}"


def khaos_uploads() -> str:
    return reverse("khaos-upload-list")


def returns_made_on(day: date) -> str:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    query = {
        "created_after": start.isoformat(),
        "created_before": (start + timedelta(days=1)).isoformat(),
    }
    return f"{reverse('return-list')}?{urlencode(query)}"
