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

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

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
        return int(match.group(1))
    if value:
        try:
            since = datetime.fromisoformat(value.replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            since = None
        if since is not None:
            if timezone.is_naive(since):
                since = since.replace(tzinfo=UTC)
            # Everything first served before that moment, Khaos has.
            served = Posting.objects.filter(
                channel=channel, kind=kind, first_downloaded_at__lt=since
            ).aggregate(last=Max("serve_seq"))["last"]
            return served or 0
    return 0


def parse_specific_ids(raw: str | None) -> list[str]:
    """``SpecificIDs: "AREF1,AREF2"``, quoted or not."""
    parts = (part.strip().strip('"').strip() for part in (raw or "").strip().strip('"').split(","))
    return [part for part in parts if part]


@transaction.atomic
def serve(channel: KhaosChannel, kind: str, *, token: str | None, specific: str | None) -> Page:
    KhaosChannel.objects.select_for_update().get(pk=channel.pk)  # one page at a time per channel
    refs = parse_specific_ids(specific)
    after = parse_token(channel, kind, token)
    if refs:
        served = list(
            Posting.objects.filter(
                channel=channel, kind=kind, associated_ref__in=refs, state__in=SERVABLE
            ).order_by("serve_seq", "id")
        )
        postings.number(channel, kind, served)
    else:
        served = list(
            Posting.objects.filter(
                channel=channel, kind=kind, serve_seq__gt=after, state__in=SERVABLE
            ).order_by("serve_seq")[: channel.batch_size]
        )
        served += postings.serve_new(channel, kind, channel.batch_size - len(served))
    postings.mark_served(served)
    last = max([after, *(p.serve_seq for p in served if not refs)], default=after)
    return Page([p.document for p in served], f"hub-{last}")


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


def _shipment_summary(status: dict) -> str:
    parts = []
    for shipment in status.get("Shipments") or []:
        packages = shipment.get("Packages") or []
        consignments = ", ".join(
            p.get("ConsignmentRef", "") for p in packages if isinstance(p, dict)
        )
        parts.append(
            f"{shipment.get('Code', '?')} {shipment.get('Status', '')}"
            + (f" ({consignments})" if consignments else "")
        )
    return "; ".join(parts)


@transaction.atomic
def apply_order_statuses(channel: KhaosChannel, document: dict) -> dict:
    """Attach each status to the exchange order it names, once. Idempotent.

    Any status but ``Cancelled`` confirms the order (Khaos has raised it); a
    ``Cancelled`` one cancels it and opens ``exchange_cancelled`` for CX.
    """
    applied, unknown = 0, []
    for index, status in enumerate(_statuses(document)):
        ref = str(status.get("AssociatedRef") or "").strip()
        state = str(status.get("Status") or "").strip()
        if not ref or not state:
            raise BadUpload(f"Statuses[{index}] needs an AssociatedRef and a Status")
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
        shipments = _shipment_summary(status)
        key = f"khaos:order-status:{ref}:{state}:{shipments}"
        if timeline.seen(ret, key):
            continue
        code = str(status.get("OrderCode") or "")
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
