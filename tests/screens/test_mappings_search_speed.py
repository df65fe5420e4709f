"""The mapping search finds a row among many from an index, never by reading the table.

What makes it fast, asserted without a clock (speed is measured by `make bench`:
benchmarks/screens.py times these searches among 100,000 rows): the right row comes
first, the search query's plan reads a prefix index (no Seq Scan on the mapping table,
with enough rows and fresh statistics), and the page is a keyset page (no OFFSET).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import CustomerMapping, SkuMapping

pytestmark = pytest.mark.django_db

ROWS = 20_000  # enough that PostgreSQL prefers an index to reading the table
PLATFORMS = ["loop", "happy-returns", "reveni", "swap", "rebound"]


@pytest.fixture
def many_rows():
    SkuMapping.objects.bulk_create(
        (
            SkuMapping(
                platform=PLATFORMS[n % 5], platform_sku=f"SKU-{n:06d}", stock_code=f"HF-{n:06d}"
            )
            for n in range(ROWS)
        ),
        batch_size=10_000,
    )
    CustomerMapping.objects.bulk_create(
        (CustomerMapping(email=f"c{n:06d}@example.com", urn=f"WEB{n:06d}") for n in range(ROWS)),
        batch_size=10_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE returns_hub_skumapping; ANALYZE returns_hub_customermapping")


def search(client, url: str, table: str):
    """The response, and the search query's SQL and plan."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    searches = [
        q["sql"]
        for q in queries.captured_queries
        if f'FROM "{table}"' in q["sql"] and "LIKE" in q["sql"]
    ]
    assert len(searches) == 1, searches
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {searches[0]}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    return response, searches[0], plan


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/mappings/skus/?q=SKU-012424", "SKU-012424"),
        ("/mappings/skus/?q=HF-012424", "SKU-012424"),
        ("/mappings/skus/?q=sku-01242", "SKU-012420"),
    ],
)
def test_a_sku_is_found_from_an_index(client, role_users, many_rows, url, expected):
    client.force_login(role_users["data"])

    response, sql, plan = search(client, url, "returns_hub_skumapping")

    assert response.status_code == 200
    assert response.context["table"].data[0].platform_sku == expected
    assert "Seq Scan on returns_hub_skumapping" not in plan, plan
    assert "sku_mapping_sku_prefix" in plan or "sku_mapping_code_prefix" in plan, plan
    assert "OFFSET" not in sql.upper()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/mappings/customers/?q=c012424@example.com", "WEB012424"),
        ("/mappings/customers/?q=WEB012424", "WEB012424"),
        ("/mappings/customers/?q=web01242", "WEB012420"),
    ],
)
def test_a_customer_is_found_from_an_index(client, role_users, many_rows, url, expected):
    client.force_login(role_users["data"])

    response, sql, plan = search(client, url, "returns_hub_customermapping")

    assert response.status_code == 200
    assert response.context["table"].data[0].urn == expected
    assert "Seq Scan on returns_hub_customermapping" not in plan, plan
    assert "customer_mapping_email_prefix" in plan or "customer_mapping_urn_prefix" in plan
    assert "OFFSET" not in sql.upper()
