"""The endpoints Khaos calls. Basic auth with the channel's credentials on every one.

POSTs answer 200 only once the data is stored, 400 for data the hub cannot
use (with a message), 500 only for the hub's own faults; anything but 200
makes Khaos send again, so every upload is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import struct
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from connectors.khaos import channel as rules
from connectors.khaos import formats, schema
from returns_hub.choices import KhaosFormat, PostingKind
from returns_hub.models import KhaosChannel, KhaosUpload
from returns_hub.models.connections import slug_validator
from returns_hub.services.products import (
    StockUploadError,
    apply_stock_parts,
    apply_stock_status_parts,
)

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
        channel,
        kind,
        token=request.headers.get("Sirion-Continuation"),
        specific=request.headers.get("SpecificIDs"),
    )
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


# --- uploads ----------------------------------------------------------------------
#
# Khaos pushes the whole product master at once: a push of tens of megabytes is read
# from the request a chunk at a time (never through request.body, which Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE guards: that limit is for forms), up to
# HUB["KHAOS_UPLOAD_MAX_BYTES"] (HUB_KHAOS_UPLOAD_MAX_BYTES, 256 MiB unless set).
# It is held in memory once, read a part at a time (formats.parts), applied in
# batches, and written to the database once, streamed in chunks (binary COPY), in the
# same transaction as what it changes: the 200 is sent only once both are committed.

READ_CHUNK = 1024 * 1024
COPY_CHUNK = 1024 * 1024


def _read_push(request: HttpRequest, limit: int) -> bytearray | None:
    """The raw body, read a chunk at a time into one buffer; None when it is over
    ``limit`` bytes (declared or sent)."""
    meta = request.META
    try:
        declared = max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    stream = request
    if not declared and meta.get("wsgi.input_terminated"):
        # No length: a chunked body, which gunicorn decodes and ends (Django would read
        # no body at all without a Content-Length).
        stream = meta["wsgi.input"]
    body = bytearray(declared)  # filled in place: the body is never in memory twice
    size = 0
    while chunk := stream.read(READ_CHUNK):
        end = size + len(chunk)
        if end > limit:
            return None
        body[size:end] = chunk  # past the declared length, this grows the buffer
        size = end
    del body[size:]  # a body shorter than declared (the sender stopped)
    return body


_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# KhaosUpload's columns in the order the binary COPY writes them. Another field on the
# model makes _keep fall back to the ORM (which holds more copies of the body).
_COPIED = ("channel", "endpoint", "format", "body", "status", "error", "summary", "received_at")


def _copy_columns() -> bool:
    fields = {f.name for f in KhaosUpload._meta.concrete_fields} - {"id"}
    return fields == set(_COPIED)


def _keep(channel, endpoint, fmt, body, status, *, summary=None, error="") -> None:
    """The push, kept whole: one row, its body written once and streamed in chunks."""
    summary = summary or {}
    if not _copy_columns():
        row = {"endpoint": endpoint, "format": fmt, "status": status, "error": error}
        KhaosUpload.objects.create(channel=channel, body=bytes(body), summary=summary, **row)
        return
    meta = KhaosUpload._meta
    channel_type = meta.get_field("channel").target_field.rel_db_type(connection)
    since_epoch = timezone.now() - _PG_EPOCH
    micros = (since_epoch.days * 86_400 + since_epoch.seconds) * 1_000_000
    fields = [
        struct.pack("!q" if channel_type == "bigint" else "!i", channel.pk),
        endpoint.encode(),
        fmt.encode(),
        None,  # the body, streamed below
        status.encode(),
        error.replace("\x00", "\\x00").encode("utf-8", "replace"),  # text holds no NUL
        b"\x01" + json.dumps(summary).encode(),  # jsonb: version 1, then the text
        struct.pack("!q", micros + since_epoch.microseconds),
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _COPIED)
    sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN WITH (FORMAT binary)"
    view = memoryview(body)
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(_PGCOPY_HEADER + struct.pack("!h", len(fields)))
        for value in fields:
            if value is None:
                copy.write(struct.pack("!i", len(view)))
                for start in range(0, len(view), COPY_CHUNK):
                    copy.write(view[start : start + COPY_CHUNK])
            else:
                copy.write(struct.pack("!i", len(value)) + value)
        copy.write(struct.pack("!h", -1))


def _upload(request, channel, fmt, endpoint, apply) -> HttpResponse:
    """Apply the push and keep it, in one transaction; answer as Khaos expects."""
    limit = settings.HUB["KHAOS_UPLOAD_MAX_BYTES"]
    body = _read_push(request, limit)
    if body is None:
        logger.error("Khaos push over the size limit", extra={"endpoint": endpoint, "limit": limit})
        message = f"a push is at most {limit} bytes (HUB_KHAOS_UPLOAD_MAX_BYTES)"
        return JsonResponse({"error": message}, status=413)
    try:
        with transaction.atomic():
            summary = apply(channel, formats.parts(body, fmt))
            _keep(channel, endpoint, fmt, body, KhaosUpload.Status.STORED, summary=summary)
    except (formats.UploadError, rules.BadUpload, StockUploadError) as exc:
        # Nothing of it was applied (the transaction rolled back); the push is kept.
        if _kept(channel, endpoint, fmt, body, KhaosUpload.Status.REJECTED, str(exc)):
            return JsonResponse({"error": str(exc)}, status=400)
    except Exception as exc:
        logger.exception("Khaos upload failed", extra={"endpoint": endpoint})
        _kept(channel, endpoint, fmt, body, KhaosUpload.Status.FAILED, repr(exc))
    else:
        return JsonResponse({"status": "stored", **summary}, status=200)
    message = "the hub could not store this; Khaos will send it again"
    return JsonResponse({"error": message}, status=500)


def _kept(channel, endpoint, fmt, body, status, error) -> bool:
    """Keep a push that was not applied; False (logged) when even that fails."""
    try:
        _keep(channel, endpoint, fmt, body, status, error=error)
    except Exception:
        logger.exception("Khaos upload could not be kept", extra={"endpoint": endpoint})
        return False
    return True


def _stock(channel, parts):
    result = apply_stock_parts(parts)
    return {
        "created": result.created,
        "updated": result.updated,
        "renamed": result.renamed,
        "deleted": result.deleted,
    }


def _stock_status(channel, parts):
    result = apply_stock_status_parts(parts)
    summary = {"changed": result.changed}
    if result.unknown:  # StockIDs not in the product master: their statuses are not kept
        summary["unknown"] = result.unknown
    return summary


def _order_status(channel, parts):
    # A few statuses a push: read whole. Each is read by ``Status`` (the vendor's
    # examples) or ``OrderStatus`` (its property table).
    return rules.apply_order_statuses(channel, formats.document(parts))


@channel_view(require_POST)
def stock(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.STOCK, _stock)


@channel_view(require_POST)
def stock_status(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.STOCK_STATUS, _stock_status)


@channel_view(require_POST)
def order_status(request, channel, fmt):
    return _upload(request, channel, fmt, KhaosUpload.Endpoint.ORDER_STATUS, _order_status)
