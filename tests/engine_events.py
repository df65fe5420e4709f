"""Small builders of the hub's events for engine tests, with the fixtures' values."""

from decimal import Decimal

from returns_hub import events as ev
from returns_hub.models import Return
from returns_hub.services import ingest

_counter = iter(range(1, 10**9))


def D(value) -> Decimal:
    return Decimal(str(value))


def unit(uid, sku, price, tax="0.00", *, discount="0.00", reason="", outcome="refund", barcode=""):
    return ev.UnitData(
        external_id=str(uid),
        platform_sku=sku,
        barcode=barcode,
        price=D(price),
        discount=D(discount),
        tax=D(tax),
        reason=reason,
        outcome=outcome,
    )


def key(rid, what):
    return f"test:{rid}:{what}"


def opened(
    rid, units, *, order="1001", email="", name="Test Customer", exchanges=(), currency="GBP"
):
    return ev.ReturnOpened(
        external_id=rid,
        event_key=key(rid, f"opened:{len(units)}:{len(exchanges)}"),
        occurred_at=None,
        order_ref=order,
        customer_email=email,
        customer_name=name,
        address={
            "line1": "1 High Street",
            "town": "York",
            "postcode": "YO1 1AA",
            "country_code": "GB",
        },
        currency=currency,
        units=tuple(units),
        exchanges=tuple(exchanges),
    )


def exchange(xid, sku, value, quantity=1):
    return ev.ExchangeData(
        external_id=str(xid), platform_sku=sku, value=D(value), quantity=quantity
    )


def in_transit(rid, *ids):
    return ev.UnitsInTransit(rid, key(rid, f"transit:{ids}"), None, unit_ids=tuple(map(str, ids)))


def received(rid, *ids):
    return ev.UnitsReceived(rid, key(rid, f"received:{ids}"), None, unit_ids=tuple(map(str, ids)))


def graded(rid, uid, disposition, condition=""):
    return ev.UnitGraded(
        rid,
        key(rid, f"graded:{uid}:{disposition}"),
        None,
        unit_id=str(uid),
        disposition=disposition,
        condition=condition,
    )


def refunded(rid, amount, reference="R1"):
    return ev.RefundIssued(
        rid, key(rid, f"refund:{reference}"), None, amount=D(amount), reference=reference
    )


def credited(rid, amount, reference, kind="store_credit"):
    return ev.CreditIssued(
        rid, key(rid, f"credit:{reference}"), None, amount=D(amount), reference=reference, kind=kind
    )


def cancelled(rid):
    return ev.ReturnCancelled(rid, key(rid, "cancelled"), None)


def expired(rid):
    return ev.ReturnExpired(rid, key(rid, "expired"), None)


def shipment(rid, reference, *ids):
    return ev.ShipmentAnnounced(
        rid,
        key(rid, f"shipment:{reference}"),
        None,
        reference=reference,
        unit_ids=tuple(map(str, ids)),
    )


def apply(connection, *events) -> Return:
    """Each event as its own delivery."""
    ret = None
    for event in events:
        ret = ingest.apply(connection, event)
    ret.refresh_from_db()
    return ret


def apply_together(connection, *events) -> Return:
    """The events as one delivery (one snapshot)."""
    (ret,) = ingest.apply_all(connection, list(events))
    ret.refresh_from_db()
    return ret


# The fixtures' Happy Returns return 1011 and Reveni return 1021, as the parsers give them.
HR_ID = "3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5"
REVENI = "RVN-20250304-0007"


def loop_5002_exchange():
    """The fixtures' Loop return 5002: a navy M jumper exchanged for the L."""
    return opened(
        "5002",
        [unit("9100201", "HF-KNT-MCR-NVY-M", "49.17", "9.83", outcome="exchange")],
        order="1002",
        email="tomasz.nowak@example.net",
        exchanges=[exchange("66012", "HF-KNT-MCR-NVY-L", "59.00")],
    )


def hr_1011():
    return opened(
        HR_ID,
        [
            unit(
                "a1d4",
                "HF-FTW-CHL-BRN-08",
                "100.00",
                "20.00",
                reason="Too small",
                barcode="5061234209015",
            ),
            unit("e58b", "", "18.33", "3.67", reason="Changed my mind", barcode="5061234206021"),
        ],
        order="1011",
        email="Siobhan.OConnell@Example.com",
    )


def reveni_1021():
    return opened(
        REVENI,
        [
            unit("rvi_a2", "HF-DRS-WRP-SAG-10", "74.17", "14.83", reason="size_too_small"),
            unit("rvi_a3", "HF-KID-HOD-RED-0708", "24.00", "0.00", reason="changed_mind"),
        ],
        order="1021",
        email="fiona.macleod@example.com",
    )
