"""A return's detail lists its store-credit and gift-card liabilities, exactly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import StoreCreditLiability
from tests import factories

pytestmark = pytest.mark.django_db


def _liability(ret, n: int, amount: str, kind: str = "store_credit"):
    return StoreCreditLiability.objects.create(
        return_ref=ret,
        kind=kind,
        reference=f"SC-{n}",
        amount=Decimal(amount),
        currency="GBP",
        issued_at=datetime(2025, 3, n, 9, 30, tzinfo=UTC),
    )


def test_detail_lists_liabilities_with_exact_amounts(api_client_for):
    ret = factories.ReturnFactory()
    _liability(ret, 1, "12.50")
    _liability(ret, 2, "0.10", kind="gift_card")
    factories.ReturnFactory()  # another return's liabilities stay out
    body = api_client_for("finance").get(f"/api/v1/returns/{ret.pk}/").json()
    assert sorted(body["liabilities"], key=lambda row: row["reference"]) == [
        {
            "kind": "store_credit",
            "reference": "SC-1",
            "amount": "12.50",
            "currency": "GBP",
            "issued_at": "2025-03-01T09:30:00Z",
        },
        {
            "kind": "gift_card",
            "reference": "SC-2",
            "amount": "0.10",
            "currency": "GBP",
            "issued_at": "2025-03-02T09:30:00Z",
        },
    ]


def test_detail_queries_do_not_grow_with_liabilities(api_client_for):
    client = api_client_for("finance")
    one, many = factories.ReturnFactory(), factories.ReturnFactory()
    _liability(one, 1, "1.00")
    for n in range(1, 21):
        _liability(many, n, f"{n}.01")
    client.get(f"/api/v1/returns/{one.pk}/")  # warm the user's permission cache
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(f"/api/v1/returns/{one.pk}/").json()["liabilities"]) == 1
    with CaptureQueriesContext(connection) as lots:
        assert len(client.get(f"/api/v1/returns/{many.pk}/").json()["liabilities"]) == 20
    assert len(lots) == len(few)
    loads = [q["sql"] for q in lots.captured_queries if "storecreditliability" in q["sql"]]
    # One query, and a prefetch (IN), not a lazy per-return lookup made while serialising.
    assert len(loads) == 1 and '"return_ref_id" IN (' in loads[0]
