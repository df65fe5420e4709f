from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from returns_hub.choices import ExceptionKind, MoneyState, PostingState
from returns_hub.models import ExceptionCase
from returns_hub.services import postings
from tests import factories
from tests.conftest import FIXTURES

EXPORT = FIXTURES / "khaos" / "credit_note_export.csv"

# The fixture export's refs, their source orders and the credit the hub expects.
EXPECTED = {
    "LOOP-5003": ("1003", "40.00"),
    "LOOP-5001": ("1001", "59.98"),
    "SWAP-40012": ("40012", "89.00"),
    "SWAP-40014": ("40014", "67.00"),
    "HR-3f6c2a9e-8b1d-4c57-9e0a-6d2b7f41c8a5": ("1011", "142.00"),
    "RB-884512": ("1041", "179.00"),
    "REV-RVN-20250304-0007": ("1021", "113.00"),
    "RB-884515": ("1044", "120.00"),
}


def served_posting(ref: str, order: str, expected: str, *, state=PostingState.DOWNLOADED):
    """A return posting Khaos downloaded and has not confirmed, past its deadline."""
    now = timezone.now()
    ret = factories.ReturnFactory(
        associated_ref=ref, order_ref=order, money_state=MoneyState.POSTED
    )
    return factories.PostingFactory(
        return_ref=ret,
        state=state,
        expected_credit=Decimal(expected),
        ready_at=now - timedelta(days=10),
        confirm_by=now - timedelta(days=3),
        first_downloaded_at=now - timedelta(days=9),
        download_count=1,
    )


@pytest.fixture
def hub_postings(db):
    """The eight postings the export confirms, each already flagged posting_unconfirmed."""
    made = {ref: served_posting(ref, order, amount) for ref, (order, amount) in EXPECTED.items()}
    assert postings.flag_unconfirmed() == 8
    assert ExceptionCase.objects.filter(kind=ExceptionKind.POSTING_UNCONFIRMED).count() == 8
    return made


@pytest.fixture
def hub(role_users):
    """March 2025 as the fixtures tell it (tests/reconciliation/hub.py)."""
    from tests.reconciliation.hub import build_march

    return build_march(role_users["finance"])
