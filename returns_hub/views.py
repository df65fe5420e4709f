import logging

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from returns_hub.choices import ExceptionStatus
from returns_hub.models import ExceptionCase, Return

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_queue() -> None:
    from django_q.brokers import get_broker

    if not get_broker().ping():
        raise ConnectionError("broker did not answer")


@never_cache
@require_GET
@login_not_required
def healthz(request):
    """Reachability of the database and the task queue, for load balancers. No secrets."""
    checks = {}
    for name, check in (("database", _check_database), ("queue", _check_queue)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:
            logger.warning("health check failed", extra={"check": name, "error": str(exc)})
            checks[name] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def home(request):
    """What each team should look at first: open exceptions by owner, returns by state."""
    open_by_owner = dict(
        ExceptionCase.objects.filter(status=ExceptionStatus.OPEN)
        .values_list("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )
    recent = Return.objects.select_related("connection").order_by("-id")[:20]
    return render(
        request, "returns_hub/home.html", {"open_by_owner": open_by_owner, "recent": recent}
    )
