"""The endpoints Khaos calls. Basic auth with the channel's credentials on every one.

POSTs answer 200 only once the data is stored, 400 for data the hub cannot
use (with a message), 500 only for the hub's own faults; anything but 200
makes Khaos send again, so every upload is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import time

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from connectors.base.http import read_body
from connectors.khaos import channel as rules
from connectors.khaos import formats, schema
from returns_hub.choices import KhaosFormat, PostingKind
from returns_hub.models import KhaosChannel, KhaosUpload
from returns_hub.models.connections import slug_validator
from returns_hub.services.products import StockUploadError, apply_stock_status, apply_stock_upload

logger = logging.getLogger(__name__)
CONTENT_TYPES = {KhaosFormat.JSON: "application/json", KhaosFormat.XML: "application/xml"}


def _unauthorised() -> HttpResponse:
    response = HttpResponse("Basic auth with the channel's credentials is required", status=401)
    response["WWW-Authenticate"] = 'Basic realm="returns hub Khaos channel"'
    return response


# Failed sign-ins are throttled per source address: each costs a slow password
# hash, so after FAILURE_LIMIT failures in FAILURE_WINDOW seconds the address is
# answered 429 without hashing until the window ends. Credentials that passed
# before are recognised without hashing, so a correct caller is never held up.
FAILURE_LIMIT = 10
FAILURE_WINDOW = 60
KNOWN_GOOD_SECONDS = 24 * 60 * 60
SLUG = re.compile(slug_validator.regex.pattern.strip("^$"))


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def _source(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _failure_keys(source: str) -> tuple[str, str]:
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"khaos-auth-failures:{digest}", f"khaos-auth-window:{digest}"


def _retry_after(source: str) -> int | None:
    """Seconds until ``source`` may try again, or None when it is not throttled."""
    count_key, window_key = _failure_keys(source)
    if (cache.get(count_key) or 0) < FAILURE_LIMIT:
        return None
    until = cache.get(window_key) or time.time() + FAILURE_WINDOW
    return max(1, math.ceil(until - time.time()))


def _failed(source: str) -> None:
    count_key, window_key = _failure_keys(source)
    if cache.add(window_key, time.time() + FAILURE_WINDOW, timeout=FAILURE_WINDOW):
        cache.set(count_key, 0, timeout=FAILURE_WINDOW)
    try:
        cache.incr(count_key)
    except ValueError:  # the window ended between the two calls
        cache.set(count_key, 1, timeout=FAILURE_WINDOW)


def forget_failures(source: str) -> None:
    """Clear an address's failed sign-ins (for operators, and for tests)."""
    cache.delete_many(list(_failure_keys(source)))


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError; so is non-ASCII
        return None
    username, _, password = decoded.partition(":")
    return username, password


def _authenticate(request: HttpRequest, slug: str) -> KhaosChannel | None:
    """The channel whose credentials the request carries, or None; Throttled when its
    address has failed too often and its credentials are not ones that passed before."""
    credentials = _credentials(request)
    if credentials is None:
        return None  # no password to check: nothing slow, nothing counted
    username, password = credentials
    channel = KhaosChannel.objects.filter(slug=slug).first() if SLUG.fullmatch(slug) else None
    # The slow password hash is checked once; a digest of credentials that passed
    # is remembered (it changes with the stored hash) and needs no hashing.
    seen = None
    if channel is not None:
        seen = hashlib.sha256(
            f"{channel.pk}\0{channel.password_hash}\0{username}\0{password}".encode()
        ).hexdigest()
        if cache.get(f"khaos-auth:{seen}"):
            return channel
    source = _source(request)
    retry_after = _retry_after(source)
    if retry_after is not None:
        raise Throttled(retry_after)
    if channel is None:
        # Check a password anyway so an unknown slug costs the same time.
        KhaosChannel(password_hash="!").check_credentials(username, password)
        _failed(source)
        return None
    if not channel.check_credentials(username, password):
        _failed(source)
        return None
    cache.set(f"khaos-auth:{seen}", True, timeout=KNOWN_GOOD_SECONDS)
    return channel


def _format(request: HttpRequest, channel: KhaosChannel) -> str:
    wanted = (request.GET.get("format") or "").upper()
    return wanted if wanted in KhaosFormat.values else channel.format


def _render(fmt: str, root: str, document: dict, status: int = 200) -> HttpResponse:
    body = formats.to_xml(root, document) if fmt == KhaosFormat.XML else formats.to_json(document)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def channel_view(method):
    """Basic auth, then the view with the channel and the format it speaks."""

    def decorate(view):
        @csrf_exempt
        @method
        def wrapped(request, slug):
            try:
                channel = _authenticate(request, slug)
            except Throttled as throttled:
                response = HttpResponse(
                    "Too many failed sign-ins from this address; "
                    f"try again in {throttled.retry_after} seconds",
                    status=429,
                )
                response["Retry-After"] = str(throttled.retry_after)
                return response
            if channel is None:
                return _unauthorised()
            return view(request, channel, _format(request, channel))

        wrapped.__name__ = view.__name__
        return wrapped

    return decorate


@channel_view(require_GET)
def config(request, channel, fmt):
    # A format asked for in the query is kept in every URL, so Khaos speaks it throughout.
    query = f"?format={fmt.lower()}" if request.GET.get("format") else ""

    def url(name):
        return request.build_absolute_uri(reverse(f"khaos-{name}", args=[channel.slug])) + query

    every = channel.download_frequency_minutes
    document = {
        "OrderDownload": {"URL": url("orders"), "Format": fmt, "Frequency": every},
        "CReturnDownload": {"URL": url("returns"), "Format": fmt, "Frequency": every},
        "StockUpload": {"URL": url("stock"), "Format": fmt},
        "StockStatusUpload": {"URL": url("stock-status"), "Format": fmt},
        "OrderStatusUpload": {"URL": url("order-status"), "Format": fmt},
    }
    if fmt == KhaosFormat.JSON:
        # JSON wraps the endpoints in an EndpointConfig property; XML has it as its root.
        document = {"EndpointConfig": document}
    return _render(fmt, schema.CONFIG_ROOT, document)


def _download(request, channel, fmt, kind):
    page = rules.serve(
        channel, kind,
        token=request.headers.get("Sirion-Continuation"),
        specific=request.headers.get("SpecificIDs"),
    )  # fmt: skip
    if fmt == KhaosFormat.XML:
        body = rules.download_xml(kind, page)
    else:
        body = rules.download_json(kind, page)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Sirion-Continuation"] = page.token
    return response


@channel_view(require_GET)
def returns(request, channel, fmt):
    return _download(request, channel, fmt, PostingKind.RETURN)


@channel_view(require_GET)
def orders(request, channel, fmt):
    return _download(request, channel, fmt, PostingKind.EXCHANGE_ORDER)


# Khaos pushes the whole product master at once: tens of megabytes are stored and
# answered (Django's DATA_UPLOAD_MAX_MEMORY_SIZE is for forms, not for this).
MAX_UPLOAD_BYTES = 256 * 1024 * 1024


def _upload(request, channel, fmt, endpoint, apply) -> HttpResponse:
    """Store the push whole, apply it, and answer as Khaos expects."""
    body = read_body(request, MAX_UPLOAD_BYTES)
    if body is None:
        message = f"a push is at most {MAX_UPLOAD_BYTES} bytes"
        return JsonResponse({"error": message}, status=413)

    def keep(status, **fields):
        KhaosUpload.objects.create(channel=channel, endpoint=endpoint, format=fmt, body=body,
                                   status=status, **fields)  # fmt: skip

    try:
        with transaction.atomic():
            summary = apply(channel, formats.read(body, fmt))
            keep(KhaosUpload.Status.STORED, summary=summary)
    except (formats.UploadError, rules.BadUpload, StockUploadError) as exc:
        keep(KhaosUpload.Status.REJECTED, error=str(exc))
        return JsonResponse({"error": str(exc)}, status=400)
    except Exception as exc:
        logger.exception("Khaos upload failed", extra={"endpoint": endpoint})
        keep(KhaosUpload.Status.FAILED, error=repr(exc))
        message = "the hub could not store this; Khaos will send it again"
        return JsonResponse({"error": message}, status=500)
    return JsonResponse({"status": "stored", **summary}, status=200)


def _stock(channel, document):
    result = apply_stock_upload(_items(document))
    return {"created": result.created, "updated": result.updated, "renamed": result.renamed,
            "deleted": result.deleted}  # fmt: skip


def _items(document: dict) -> dict:
    """The XML reader gives a single <Items> child as a list already; JSON is as sent."""
    items = document.get("Items")
    deleted = document.get("Deleted")
    return {"Items": items if items is not None else [], "Deleted": deleted or []}


def _stock_status(channel, document):
    return {"changed": apply_stock_status({"Statuses": rules._statuses(document)})}


@channel_view(require_POST)
def stock(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.STOCK, _stock)


@channel_view(require_POST)
def stock_status(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.STOCK_STATUS, _stock_status)


@channel_view(require_POST)
def order_status(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.ORDER_STATUS,
                   rules.apply_order_statuses)  # fmt: skip
