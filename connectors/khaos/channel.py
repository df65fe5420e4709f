"""The channel's rules: which documents Khaos is served, and what its pushes change.

Downloads: each document of a kind is given a serve number the first time it
is served, under the channel's row lock, so numbers only ever grow in the
order Khaos sees them. The ``Sirion-Continuation`` token is the last number
served: a poll with token N is answered with the documents numbered after N
(served before, if Khaos lost that answer) and then new ones, up to the
batch size. A document is never served under two payloads: its text is fixed
once it is ready.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from connectors.khaos import schema
from returns_hub import documents
from returns_hub.choices import Cause, PostingKind
from returns_hub.models import KhaosChannel, Posting
from returns_hub.services import exchanges, postings, timeline
from returns_hub.services.locks import lock_return

logger = logging.getLogger(__name__)

SERVABLE = postings.SERVABLE
TOKEN = re.compile(r"^hub-(\d+)$")
MAX_SEQ_DIGITS = 18  # below the largest bigint
REF_LENGTH = 50  # an AssociatedRef's most characters
EVENT_KEY_LENGTH = 255


@dataclass
class Page:
    texts: list[str]  # each document's stored JSON text, exactly as it will be served
    token: str

    @property
    def documents(self) -> list[dict]:
        return [documents.loads(text) for text in self.texts]


def parse_token(channel: KhaosChannel, kind: str, raw: str | None) -> int:
    """Our own token, or Khaos's first-contact date-time, as a serve number to start after."""
    value = (raw or "").strip().strip('"')
    match = TOKEN.match(value)
    if match:
        # Serve numbers are bigints; a longer number is no token the hub gave: unknown.
        digits = match.group(1)
        return int(digits) if digits.isascii() and len(digits) <= MAX_SEQ_DIGITS else 0
    if value:
        try:
            since = datetime.fromisoformat(value.replace(" ", "T").replace("Z", "+00:00"))
            if timezone.is_naive(since):
                since = since.replace(tzinfo=UTC)
            since.astimezone(UTC)  # a moment the database can compare
        except (ValueError, OverflowError):
            since = None
        if since is not None:
            # Everything first served before that moment, Khaos has.
            served = Posting.objects.filter(
                channel=channel, kind=kind, first_downloaded_at__lt=since
            ).aggregate(last=Max("serve_seq"))["last"]
            return served or 0
    return 0


def parse_specific_ids(raw: str | None) -> list[str]:
    """``SpecificIDs: "AREF1,AREF2"``, quoted or not. A part that cannot be an
    AssociatedRef (too long, or with control characters) names nothing."""
    parts = (part.strip().strip('"').strip() for part in (raw or "").strip().strip('"').split(","))
    return [part for part in parts if part and len(part) <= REF_LENGTH and part.isprintable()]


@transaction.atomic
def serve(channel: KhaosChannel, kind: str, *, token: str | None, specific: str | None) -> Page:
    KhaosChannel.objects.select_for_update().get(pk=channel.pk)  # one page at a time per channel
    refs = parse_specific_ids(specific)
    after = parse_token(channel, kind, token)
    if refs:
        served = list(
            _servable(channel, kind).filter(associated_ref__in=refs).order_by("serve_seq", "id")
        )
        postings.number(channel, kind, served)
    else:
        served = list(
            _servable(channel, kind)
            .filter(serve_seq__gt=after)
            .order_by("serve_seq")[: channel.batch_size]
        )
        served += postings.serve_new(channel, kind, channel.batch_size - len(served))
    postings.mark_served(served)
    last = max([after, *(p.serve_seq for p in served if not refs)], default=after)
    return Page([p.document for p in served], f"hub-{last}")


def _servable(channel: KhaosChannel, kind: str):
    """Documents Khaos may be sent, locked while the page is made: a withdrawal or a
    cancellation racing the page waits, then finds them served (SERVABLE is re-checked)."""
    return Posting.objects.select_for_update(of=("self",)).filter(
        channel=channel, kind=kind, state__in=SERVABLE
    )


DOWNLOADS = {
    PostingKind.RETURN: ("Returns", schema.RETURNS_ROOT, schema.RETURN_IMPORT_CONFIG),
    PostingKind.EXCHANGE_ORDER: ("Orders", schema.ORDERS_ROOT, schema.ORDER_IMPORT_CONFIG),
}


def download_json(kind: str, page: Page) -> bytes:
    """The stored texts joined as they are: no parsing, and byte-identical on every serve."""
    key, _, config = DOWNLOADS[kind]
    tail = documents.dumps({"ApiVersion": schema.API_VERSION, "Config": config})
    return f'{{"{key}":[{",".join(page.texts)}],{tail[1:]}'.encode()


def download_xml(kind: str, page: Page) -> bytes:
    from connectors.khaos import formats

    key, root, config = DOWNLOADS[kind]
    return formats.to_xml(
        root, {key: page.documents, "ApiVersion": schema.API_VERSION, "Config": config}
    )


# --- uploads ---------------------------------------------------------------------


class BadUpload(ValueError):
    """Data Khaos sent that the hub cannot store; answered with 400."""


def _statuses(document: dict) -> list[dict]:
    statuses = document.get("Statuses")
    if isinstance(statuses, dict):  # XML with a single status read as an object
        statuses = [statuses]
    if not isinstance(statuses, list) or not all(isinstance(s, dict) for s in statuses):
        raise BadUpload("Statuses must be a list of objects")
    return statuses


def _objects(value: Any, where: str) -> list[dict]:
    """A list of objects (XML's single child read as an object is one); else BadUpload."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadUpload(f"{where} must be a list of objects")
    return value


def _text(obj: dict, where: str, *names: str) -> str:
    """The first of ``names`` that is set, as text; BadUpload naming it if it is not text."""
    for name in names:
        value = obj.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise BadUpload(f"{where}.{name} must be text, got {type(value).__name__}")
        text = str(value).strip()
        if not text.replace("\t", " ").isprintable():
            raise BadUpload(f"{where}.{name} contains a control character: {text[:40]!r}")
        return text
    return ""


def _shipment_summary(status: dict, where: str) -> str:
    parts = []
    for n, shipment in enumerate(_objects(status.get("Shipments"), f"{where}.Shipments")):
        at = f"{where}.Shipments[{n}]"
        packages = _objects(shipment.get("Packages"), f"{at}.Packages")
        consignments = ", ".join(
            _text(p, f"{at}.Packages[{i}]", "ConsignmentRef") for i, p in enumerate(packages)
        )
        parts.append(
            f"{_text(shipment, at, 'Code') or '?'} {_text(shipment, at, 'Status')}"
            + (f" ({consignments})" if consignments else "")
        )
    return "; ".join(parts)


def _event_key(ref: str, state: str, shipments: str) -> str:
    key = f"khaos:order-status:{ref}:{state}:{shipments}"
    if len(key) <= EVENT_KEY_LENGTH:
        return key
    return f"khaos:order-status:{hashlib.sha256(key.encode()).hexdigest()}"


@transaction.atomic
def apply_order_statuses(channel: KhaosChannel, document: dict) -> dict:
    """Attach each status to the exchange order it names, once. Idempotent.

    Any status but ``Cancelled`` confirms the order (Khaos has raised it); a
    ``Cancelled`` one cancels it and opens ``exchange_cancelled`` for CX.
    """
    applied, unknown = 0, []
    numbered = list(enumerate(_statuses(document)))
    # Returns are locked in one order (by reference), so two uploads never deadlock.
    numbered.sort(key=lambda item: str(item[1].get("AssociatedRef") or ""))
    for index, status in numbered:
        where = f"Statuses[{index}]"
        ref = _text(status, where, "AssociatedRef")
        state = _text(status, where, "Status", "OrderStatus")  # the examples, the table
        if not ref or not state:
            raise BadUpload(f"{where} needs an AssociatedRef and a Status")
        shipments = _shipment_summary(status, where)
        code = _text(status, where, "OrderCode")
        posting = (
            Posting.objects.select_related("return_ref__connection", "exchange")
            .filter(channel=channel, kind=PostingKind.EXCHANGE_ORDER, associated_ref=ref)
            .first()
        )
        if posting is None:
            unknown.append(ref)
            continue
        ret = lock_return(posting.return_ref_id)  # the return's lock before its posting's
        posting.return_ref = ret
        key = _event_key(ref, state, shipments)
        if timeline.seen(ret, key):
            continue
        exchanges.order_status(posting, state, code=code)
        if state.lower() == "cancelled":
            postings.cancel(posting, ref=code, by=timeline.KHAOS)
        else:
            postings.confirm(posting, ref=code, by=timeline.KHAOS, how=f"order status {state}")
        timeline.record(
            ret,
            "khaos_order_status",
            f"Khaos order {code or '?'} for {ref} is {state}"
            + (f": {shipments}" if shipments else ""),
            cause=Cause.KHAOS,
            event_key=key,
            details={"status": status},
        )
        applied += 1
    if unknown:
        logger.warning("order statuses for unknown orders", extra={"refs": unknown})
    return {"applied": applied, "unknown": unknown}
