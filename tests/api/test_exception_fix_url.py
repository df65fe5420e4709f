"""The exception API offers the same pre-filled fix form as the screens, as ``fix_url``."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories

pytestmark = pytest.mark.django_db


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def ret(loop_connection):
    return factories.ReturnFactory(connection=loop_connection)


def _case(ret, kind, details):
    return factories.ExceptionCaseFactory(
        kind=kind, return_ref=ret, connection=ret.connection, details=details
    )


def test_exception_list_carries_fix_url(api_client_for, ret):
    inactive = _case(ret, "inactive_sku", {"sku": "HF-OLD-1", "stock_id": "31"})
    mismatch = _case(ret, "value_mismatch", {})
    rows = {
        row["id"]: row
        for row in api_client_for("data").get("/api/v1/exceptions/").json()["results"]
    }
    url = rows[inactive.pk]["fix_url"]
    assert url.startswith("http://testserver/mappings/skus/add/?")
    assert _query(url) == {"platform": "loop", "platform_sku": "HF-OLD-1"}
    assert rows[mismatch.pk]["fix_url"] is None


def test_return_detail_exceptions_carry_fix_url(api_client_for, ret):
    _case(ret, "unmapped_reason", {"reason": "Too big"})
    body = api_client_for("cx").get(f"/api/v1/returns/{ret.pk}/").json()
    url = body["exceptions"][0]["fix_url"]
    assert urlsplit(url).path == "/mappings/reasons/add/"
    assert _query(url) == {"platform": "loop", "reason": "Too big"}


def test_fix_urls_cost_no_query_per_exception(api_client_for, ret):
    client = api_client_for("data")
    _case(ret, "unknown_sku", {"sku": "A"})
    client.get("/api/v1/exceptions/")  # warm the user's permission cache
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/exceptions/")
    for n in range(10):
        other = factories.ReturnFactory(connection=ret.connection)
        _case(other, "unknown_sku", {"sku": f"B{n}"})
    with CaptureQueriesContext(connection) as lots:
        assert len(client.get("/api/v1/exceptions/").json()["results"]) == 11
    assert len(lots) == len(few)


def test_return_detail_fix_urls_cost_no_query_per_exception(api_client_for, ret):
    client = api_client_for("cx")
    _case(ret, "unknown_sku", {"sku": "A"})
    client.get(f"/api/v1/returns/{ret.pk}/")  # warm the user's permission cache
    with CaptureQueriesContext(connection) as few:
        client.get(f"/api/v1/returns/{ret.pk}/")
    for n in range(5):
        _case(ret, "unmapped_reason", {"reason": f"R{n}"})
    with CaptureQueriesContext(connection) as lots:
        assert len(client.get(f"/api/v1/returns/{ret.pk}/").json()["exceptions"]) == 6
    assert len(lots) == len(few)
