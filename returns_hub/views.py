import logging

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
