"""March 2025 as the fixtures tell it: the returns and postings behind the credit note
export, one difference of each cause, and a timing row in April. Shared by the
reconciliation tests and the /finance/ screens."""

from datetime import UTC, date, datetime
from decimal import Decimal

from reconciliation.importers import import_credit_notes
from reconciliation.services.differences import Period
from returns_hub.choices import (
    ExceptionKind,
    ExceptionStatus,
    LiabilityKind,
    MoneyState,
    PostingState,
    ReturnState,
)
from returns_hub.models import ExceptionCase, Posting, StoreCreditLiability
from tests import factories
from tests.reconciliation.conftest import EXPORT

MARCH = Period.parse("2025-03")
TODAY = date(2025, 4, 10)


def at(day: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, 12, tzinfo=UTC)


def refund(amount: str, day: int) -> dict:
    return {"refunded_amount": Decimal(amount), "refunded_at": at(day)}


class Hub:
    """Connections per platform, and returns with their postings.

    With ``backdate``, each posting is made the day it was offered (its created_at moved
    back to ``ready``), as the /finance/ day views count them."""

    def __init__(self, *, backdate: bool = False):
        self.connections = {}
        self.backdate = backdate

    def connection(self, platform: str):
        if platform not in self.connections:
            self.connections[platform] = factories.PlatformConnectionFactory(
                platform=platform, slug=f"hf-{platform}"
            )
        return self.connections[platform]

    def ret(self, platform: str, ref: str, **fields):
        return factories.ReturnFactory(
            connection=self.connection(platform),
            associated_ref=ref,
            external_id=ref.split("-", 1)[1],
            **fields,
        )

    def posting(self, platform, ref, expected, *, ready=1, state=PostingState.DOWNLOADED, **money):
        ret = self.ret(platform, ref, money_state=MoneyState.POSTED, **money)
        posting = factories.PostingFactory(
            return_ref=ret,
            channel=self.connection(platform).khaos_channel,
            state=state,
            expected_credit=Decimal(expected),
            ready_at=at(ready) if state != PostingState.HELD else None,
        )
        if self.backdate:
            # Made the day it was offered (created_at is set on insert: moved back here).
            Posting.objects.filter(pk=posting.pk).update(created_at=at(ready))
        return posting


def build_march(finance_user, *, backdate: bool = False, april_timing: bool = True) -> Hub:
    """March 2025 as the fixtures tell it: the eight postings the credit note export
    confirms (RB-884512 £5.00 short, CN0010488 raised by hand), imported against the
    fixtures' returns, and one difference of every other cause; with ``april_timing``,
    also a timing row refunded in April."""
    hub = Hub(backdate=backdate)
    hub.posting("loop", "LOOP-5003", "40.00", ready=3, **refund("40.00", 3))
    hub.posting("loop", "LOOP-5001", "59.98", ready=4, **refund("59.98", 4))
    hub.posting("swap", "SWAP-40012", "89.00", ready=5, exchange_amount=Decimal("89.00"))
    swap_credit = hub.posting("swap", "SWAP-40014", "67.00", ready=6)
    swap_credit.return_ref.store_credit_amount = Decimal("67.00")
    swap_credit.return_ref.save()
    StoreCreditLiability.objects.create(
        return_ref=swap_credit.return_ref,
        kind=LiabilityKind.STORE_CREDIT,
        reference="HFC-7H3K-9QPX",
        amount=Decimal("67.00"),
        currency="GBP",
        issued_at=at(9),
    )
    hub.posting(
        "happy-returns",
        "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5",
        "142.00",
        ready=7,
        **refund("141.99", 2),
    )
    hub.posting("rebound", "RB-884512", "179.00", ready=8)
    hub.posting("reveni", "REV-RVN-20250304-0007", "113.00", ready=4, **refund("113.00", 4))
    hub.posting("rebound", "RB-884515", "120.00", ready=9)
    # Posted, no credit note yet.
    hub.posting("loop", "LOOP-5002", "59.00", ready=20, exchange_amount=Decimal("59.00"))
    # Approved value mismatch: posted at the expected credit, refunded more (and no note).
    hub.posting("loop", "LOOP-5004", "126.65", state=PostingState.READY, **refund("149.00", 14))
    # Refunded at first scan, goods not graded: a timing difference.
    hub.ret(
        "happy-returns",
        "HR-timing-1014",
        money_state=MoneyState.REFUNDED,
        state=ReturnState.IN_TRANSIT,
        **refund("141.99", 25),
    )
    if april_timing:
        hub.ret(
            "happy-returns",
            "HR-timing-1015",
            money_state=MoneyState.REFUNDED,
            **{"refunded_amount": Decimal("20.00"), "refunded_at": at(2, month=4)},
        )
    # Refunded, then the return was cancelled: no goods and no posting will come.
    hub.ret(
        "reveni",
        "REV-RVN-cancelled-1025",
        state=ReturnState.CANCELLED,
        money_state=MoneyState.REFUNDED,
        **refund("30.00", 5),
    )
    # A value mismatch finance ignored: refunded by bank transfer outside the hub.
    held = hub.posting(
        "reveni", "REV-RVN-1023", "50.15", state=PostingState.HELD, **refund("48.15", 6)
    )
    ExceptionCase.objects.create(
        kind=ExceptionKind.VALUE_MISMATCH,
        cause_key="value:48.15",
        return_ref=held.return_ref,
        posting=held,
        message="Mismatch",
        status=ExceptionStatus.IGNORED,
        resolution="Refunded by bank transfer",
        resolved_by=finance_user,
        resolved_at=at(18),
    )
    with EXPORT.open("rb") as stream:
        result = import_credit_notes(stream, file_name="credit_note_export.csv")
    assert result.as_dict()["matched"] == 8
    return hub
