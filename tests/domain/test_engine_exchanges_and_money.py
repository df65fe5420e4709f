"""Exchanges, store credit, exact money and re-runs, driven as the hub's own events.

Values are those of the fixtures (see tests/fixtures/README.md); the events
are what each platform's parser produces from them.
"""

from decimal import Decimal

import pytest

from returns_hub.choices import PostingState
from returns_hub.models import ExceptionCase, Posting, StoreCreditLiability
from tests.engine_events import (
    HR_ID,
    REVENI,
    apply,
    apply_together,
    credited,
    exchange,
    graded,
    hr_1011,
    in_transit,
    opened,
    received,
    refunded,
    reveni_1021,
    unit,
)

pytestmark = pytest.mark.django_db


def items(posting):
    return [
        (
            i["SKU"],
            i["Quantity"],
            i["ReturnReason"]["ID"],
            i["UnitPrice"]["Gross"],
            i["SourceReference"]["SourceOrder"]["AssociatedRef"],
        )
        for i in posting.payload["ReturnedItems"]
    ]


def open_kinds(ret):
    return sorted(ret.exceptions.filter(status="open").values_list("kind", "owner"))


# --- on_inspection: Happy Returns ---------------------------------------------------


def test_exchange_in_stock_is_ordered_and_the_return_posts_without_it(workspace):
    swap = workspace.connections["swap"]
    dress = unit(
        "sl_1", "HF-DRS-WRP-SAG-10", "74.17", "14.83", reason="Too small", outcome="exchange"
    )
    wanted = [exchange("sl_1", "HF-DRS-WRP-SAG-12", "89.00")]
    ret = apply(
        swap,
        opened("40012", [dress], order="1031", email="aisha.khan@example.com", exchanges=wanted),
    )
    order = Posting.objects.get(kind="exchange_order")
    assert order.associated_ref == "SWAP-40012-X"
    assert order.payload["Items"][0]["SKU"] == "HF-DRS-WRP-SAG-12"
    assert order.payload["Customer"]["URN"] == "WEB10261"
    assert ret.exchanges.get().state == "ordered"

    ret = apply(swap, received("40012"))
    assert ret.state == "received" and not ret.postings.filter(kind="return").exists()
    ret = apply(swap, graded("40012", "sl_1", "restock", "like_new"))

    posting = ret.postings.get(kind="return")
    assert items(posting) == [("HF-DRS-WRP-SAG-10", 1, "3", Decimal("89.00"), "1031")]
    assert posting.payload["ExchangeItems"] == []
    assert not ret.exceptions.exists()


def test_exchanges_khaos_cannot_send_are_cx_exceptions_that_do_not_hold_the_return(workspace):
    swap = workspace.connections["swap"]
    units = [
        unit("l1", "HF-DNM-SLM-IND-3232", "65.83", "13.17", reason="Too small"),
        unit("l2", "HF-DRS-WRP-SAG-12", "74.17", "14.83", reason="Too small"),
        unit("l3", "HF-SHT-OXF-BLU-M", "40.83", "8.17", reason="Too small"),
    ]
    wanted = [
        exchange("l1", "HF-DNM-SLM-IND-3432", "79.00"),
        exchange("l2", "HF-DRS-WRP-SAG-14", "89.00"),
        exchange("l3", "HF-SHT-OXF-BLU-L", "49.00"),
    ]
    ret = apply(
        swap,
        opened("40013", units, order="1032", email="oliver.bennett@example.com", exchanges=wanted),
    )

    assert not Posting.objects.filter(kind="exchange_order").exists()
    cases = ret.exceptions.filter(kind="exchange_unavailable").order_by("id")
    assert [c.owner for c in cases] == ["cx"] * 3
    reasons = " | ".join(c.details["why"] for c in cases)
    assert "HF-DNM-SLM-IND-3432 has 0 available at site 1" in reasons
    assert "HF-DRS-WRP-SAG-14 is not published on web" in reasons
    assert "HF-SHT-OXF-BLU-L is discontinued" in reasons

    for uid in ("l1", "l2", "l3"):
        ret = apply(swap, graded("40013", uid, "restock"))
    posting = ret.postings.get(kind="return")
    assert posting.state == PostingState.READY  # not held by the exchanges
    assert posting.expected_credit == Decimal("217.00")
    assert posting.payload["ExchangeItems"] == []


def test_store_credit_is_a_liability_and_the_credit_note_still_posts(workspace):
    swap = workspace.connections["swap"]
    ret = apply_together(
        swap,
        opened(
            "40014",
            [
                unit("s1", "HF-ACC-SCF-LAM-GRY", "29.17", "5.83"),
                unit("s2", "HF-KID-PDL-YEL-0506", "32.00", "0.00"),
            ],
            order="1033",
            email="megan.price@example.org",
        ),
        graded("40014", "s1", "restock"),
        graded("40014", "s2", "restock"),
        credited("40014", "67.00", "HFC-7H3K-9QPX"),
    )
    liability = StoreCreditLiability.objects.get()
    assert (liability.reference, liability.amount, liability.kind) == (
        "HFC-7H3K-9QPX",
        Decimal("67.00"),
        "store_credit",
    )
    posting = ret.postings.get()
    assert items(posting) == [
        ("HF-ACC-SCF-LAM-GRY", 1, "3", Decimal("35.00"), "1033"),
        ("HF-KID-PDL-YEL-0506", 1, "3", Decimal("32.00"), "1033"),
    ]
    assert not ret.exceptions.exists()


# --- on_final_disposition: ReBound -----------------------------------------------------


def test_money_stays_an_exact_decimal_from_the_event_to_the_khaos_document(workspace):
    # 0.10 + 0.20 is 0.30000000000000004 in binary floats: any float on the way shows.
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "884599",
            [unit("1", "HF-ACC-SCF-LAM-GRY", "0.10", "0.20")],
            order="1045",
            email="catherine.doyle@example.com",
        ),
        graded("884599", "1", "restocked"),
    )
    posting = ret.postings.get()
    posting.refresh_from_db()
    assert type(posting.expected_credit) is Decimal
    assert posting.expected_credit == Decimal("0.30")
    assert '"UnitPrice":{"Gross":0.30}' in posting.document
    assert posting.payload["ReturnedItems"][0]["UnitPrice"]["Gross"] == Decimal("0.30")


def _scenarios():
    return {
        "happy-returns": [
            hr_1011(),
            in_transit(HR_ID),
            refunded(HR_ID, "141.99"),
            graded(HR_ID, "a1d4", "sellable"),
            graded(HR_ID, "e58b", "sellable"),
        ],
        "reveni": [reveni_1021(), refunded(REVENI, "113.00"), graded(REVENI, "rvi_a2", "good")],
        "swap": [
            opened(
                "40099",
                [unit("1", "HF-DRS-WRP-SAG-10", "74.17", "14.83")],
                order="1031",
                email="aisha.khan@example.com",
                exchanges=[exchange("1", "HF-DRS-WRP-SAG-12", "89.00")],
            ),
            received("40099"),
            graded("40099", "1", "restock"),
        ],
        "rebound": [
            opened("884598", [unit("1", "HF-DNM-SLM-IND-3032", "79.00")], order="1"),
            graded("884598", "1", "repair"),
        ],
    }


@pytest.mark.parametrize("platform", ["happy-returns", "reveni", "swap", "rebound"])
def test_a_rerun_of_any_event_changes_nothing(workspace, platform):
    from returns_hub.models import Return, TimelineEntry

    connection = workspace.connections[platform]
    events = _scenarios()[platform]
    apply(connection, *events)

    def state():
        return [
            list(m.objects.order_by("pk").values())
            for m in (Return, Posting, ExceptionCase, TimelineEntry)
        ]

    before = state()
    for event in events:
        apply(connection, event)
    apply_together(connection, *events)
    assert state() == before
