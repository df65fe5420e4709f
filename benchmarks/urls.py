"""The hub's URLs, and a minimal webhook view that only verifies and inserts one row.

That view is the ceiling a real receiver can approach on this machine; the
hub's receiver is measured against it in the same run.
"""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as hub_urls
from connectors.base.signatures import HmacSignature

SIGNATURE = HmacSignature(header="X-Loop-Signature", encoding="base64")
SECRET = "demo-loop-webhook-secret"


@csrf_exempt
@login_not_required
def minimal(request):
    body = request.body
    if not SIGNATURE.verify(SECRET, body, request.headers):
        return HttpResponse(status=401)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_minimal (body) VALUES (%s)", [body])
    return HttpResponse(status=202)


urlpatterns = [path("bench/minimal/", minimal), *hub_urls]
