"""The one webhook receiver: verify, store whole, acknowledge, process later."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors import registry
from connectors.base import parsing
from connectors.base.http import read_body
from returns_hub.choices import InboxSource
from returns_hub.models import PlatformConnection
from returns_hub.services import inbox

logger = logging.getLogger(__name__)

# Headers worth keeping beside the body; credentials and cookies are not.
_DROPPED_HEADERS = {"authorization", "cookie", "x-authorization", "x-hr-apikey"}


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


# Connections seen lately, so the hot path skips a query; a change to a
# connection clears this process's copy at once and others' within CACHE_SECONDS.
# Only connections that exist are kept: a miss remembered per URL would let
# anyone grow this dict without end by posting to made-up slugs.
CACHE_SECONDS = 30.0
_connections: dict[tuple[str, str], tuple[float, PlatformConnection]] = {}


def _connection(platform: str, slug: str) -> PlatformConnection | None:
    key = (platform, slug)
    cached = _connections.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    found = PlatformConnection.objects.filter(platform=platform, slug=slug, enabled=True).first()
    if found is None:
        _connections.pop(key, None)
    else:
        _connections[key] = (time.monotonic() + CACHE_SECONDS, found)
    return found


def forget_connections(**kwargs) -> None:
    _connections.clear()


def _key(text: str, limit: int) -> str:
    """A topic or key as stored: one too long or unstorable becomes its digest, so
    two different deliveries never share a key by truncation."""
    if len(text) <= limit and parsing.storable(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _parse(body: bytes) -> dict:
    """The body as a JSON object, or ValueError with a message for the sender."""
    if not body.strip():
        raise ValueError("body is empty: a JSON object is expected")
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("body is not valid JSON: it nests too deeply") from None
    except ValueError as exc:  # Python's "Exceeds the limit (4300 digits) for integer string"
        raise ValueError(f"body is not valid JSON: {parsing.number_error(exc)}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"body must be a JSON object, not {type(payload).__name__}")
    if parsing.depth(payload) > parsing.MAX_DEPTH:
        raise ValueError(f"body nests deeper than {parsing.MAX_DEPTH} levels")
    return payload


@csrf_exempt
@require_POST
def receive(request: HttpRequest, platform: str, slug: str) -> JsonResponse:
    if not (parsing.storable(platform) and parsing.storable(slug)):
        return _error(404, "no such connection")
    connection = _connection(platform, slug)
    if connection is None:
        return _error(404, f"no enabled {platform} connection named {slug!r}")
    connector = registry.get(platform)

    body = read_body(request, settings.HUB["WEBHOOK_MAX_BYTES"])
    if body is None:
        return _error(413, f"body is larger than {settings.HUB['WEBHOOK_MAX_BYTES']} bytes")

    signature = connector.signature_for(connection.options)
    if not signature.verify(connection.webhook_secret, body, request.headers):
        logger.warning(
            "webhook signature rejected",
            extra={"connection": connection.slug, "header": signature.header},
        )
        return _error(401, f"missing or bad signature in {signature.header}")

    try:
        payload = _parse(body)
        topic = _key(connector.webhooks.topic(payload), 100)
        dedup_key = _key(connector.webhooks.dedup_key(payload, body), 255)
    except (ValueError, TypeError, RecursionError) as exc:
        return _error(400, str(exc))
    headers = {
        k: v.replace("\x00", "")
        for k, v in request.headers.items()
        if k.lower() not in _DROPPED_HEADERS and parsing.storable(k)
    }
    # Stored and committed (autocommit), and its processing queued, before the 202.
    delivery_id = inbox.store(
        connection,
        source=InboxSource.WEBHOOK,
        topic=topic,
        dedup_key=dedup_key,
        headers=headers,
        body=body,
    )
    if delivery_id is None:
        # Already stored: a duplicate is recognised and changes nothing.
        return JsonResponse({"status": "duplicate"}, status=200)
    logger.info(
        "webhook stored",
        extra={"connection": connection.slug, "topic": topic, "delivery": delivery_id},
    )
    return JsonResponse({"status": "accepted", "delivery": delivery_id}, status=202)
