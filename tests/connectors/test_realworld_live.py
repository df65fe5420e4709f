"""Every real platform body in ``tests/fixtures/realworld/`` through a live hub.

Each body is posted over real HTTP with the signature its platform uses, stored,
processed by the delivery task, and checked for the outcome a retailer would
expect. The manifest below names every file of the folder and where it is proven,
so a file added without a test fails here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors import tasks
from returns_hub.choices import InboxStatus
from returns_hub.models import InboxDelivery, Return
from tests.conftest import FIXTURES, send_webhook
from tests.factories import PlatformConnectionFactory

REAL = FIXTURES / "realworld"

# Bodies a platform really sends, posted below: file → (platform, return id or None).
BODIES = {
    "loop/aurate_2020_webhook_return_created.json": ("loop", "6042537"),
    "loop/aurate_2020_webhook_return_updated_closed.json": ("loop", "6042537"),
    "loop/loop_docs_return_webhook_example_partial.json": ("loop", "1673"),
    "loop/loop_docs_happy_returns_shipment_webhook.json": ("loop", None),
    "happy_returns/hr_docs_return_asn_example_partial.json": (
        "happy-returns",
        "5035789d-f873-4bad-b2f3-2daca346c111",
    ),
    "happy_returns/hr_docs_return_label_update_example.json": (
        "happy-returns",
        "515764c3-2ff3-11eb-b93e-2a27f3aba64d",
    ),
}
# Everything else in the folder, and the test that proves it.
ELSEWHERE = {
    "SOURCES.md": "where each file comes from (read by people)",
    "loop/meltano_tap_loopreturns_returns_schema_2023.json": "tests/connectors/test_loop_real.py",
    "happy_returns/loop_docs_happy_returns_shipment_webhook.json": (
        "tests/connectors/test_happy_returns_real.py (not a Happy Returns delivery)"
    ),
    "happy_returns/hr_docs_outbound_shipment_v1_fields.md": (
        "tests/connectors/test_happy_returns_real.py"
    ),
    "rebound/NOTES.md": "tests/connectors/test_rebound_real.py",
    "rebound/tap_rebound_schema_returns.json": "tests/connectors/test_rebound_real.py",
    "rebound/tap_rebound_schema_returns_search.json": (
        "an empty schema (no properties): nothing to check; the search's success.id and "
        "empty answers come from NOTES.md, proven in test_rebound_real.py"
    ),
    "notes/swap.md": "tests/connectors/test_swap_auth.py",
    "notes/reveni.md": "nothing to parse: no Reveni body is public",
    "khaos/kcc-README.md": "tests/khaos/test_validation.py (the tables)",
    "khaos/readme_customer_return_download_CustomerReturnImport.json": (
        "tests/khaos/test_validation.py"
    ),
    "khaos/readme_customer_return_download_CustomerReturnImport.xml": (
        "tests/khaos/test_validation.py"
    ),
    "khaos/readme_order_download_SalesOrderImport.json": "tests/khaos/test_validation.py",
    "khaos/readme_order_download_SalesOrderImport.xml": "tests/khaos/test_validation.py",
    "khaos/readme_endpoint_config_example.xml": "tests/khaos/test_validation.py",
    "khaos/repo_config.xml": "tests/khaos/test_validation.py",
    "khaos/readme_stock_upload.json": "tests/khaos/test_vendor_uploads.py",
    "khaos/readme_stock_upload.xml": "tests/khaos/test_vendor_uploads.py",
    "khaos/readme_stock_status_upload.json": "tests/khaos/test_vendor_uploads.py",
    "khaos/readme_stock_status_upload.xml": "tests/khaos/test_vendor_uploads.py",
    "khaos/readme_order_status_upload.json": "tests/khaos/test_vendor_uploads.py",
    "khaos/readme_order_status_upload.xml": "tests/khaos/test_vendor_uploads.py",
}


def test_every_real_file_is_proven_somewhere():
    present = {str(path.relative_to(REAL)) for path in REAL.rglob("*") if path.is_file()}
    assert present == set(BODIES) | set(ELSEWHERE)
    for name, where in ELSEWHERE.items():
        if where.startswith("tests/"):
            test_file = FIXTURES.parent.parent / where.split(" ")[0]
            assert test_file.exists(), where
            stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            assert stem in test_file.read_text(), f"{where} does not read {name}"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_real_body_is_accepted_through_a_live_hub(name, live_server, monkeypatch):
    monkeypatch.setattr("returns_hub.services.inbox.async_task", lambda *a, **k: None)
    platform, return_id = BODIES[name]
    connection = PlatformConnectionFactory(platform=platform, slug="real", currency="USD")
    body = (REAL / name).read_bytes()

    response = send_webhook(live_server.url, connection, body)
    assert response.status_code == 202, response.text
    assert send_webhook(live_server.url, connection, body).status_code == 200  # a redelivery
    delivery = InboxDelivery.objects.get(pk=response.json()["delivery"])
    assert bytes(delivery.body) == body  # kept whole, byte for byte

    status = tasks.process_delivery(delivery.pk)
    delivery.refresh_from_db()
    if return_id is None:
        # Loop's Happy Returns shipment names two shipment ids and nothing to act on.
        assert status == InboxStatus.IGNORED, delivery.error
        assert not Return.objects.exists()
        return
    assert status == InboxStatus.PROCESSED, delivery.error
    ret = Return.objects.get(connection=connection, external_id=return_id)
    EXPECTED[name](ret)


def _aurate(ret):
    assert (ret.associated_ref, ret.order_ref, ret.currency) == ("LOOP-6042537", "90507", "USD")
    assert [u.platform_sku for u in ret.units.all()] == ["AU1022E00000"]
    assert ret.refunded_amount == 0  # the 0.00 manual refund is no refund
    assert ret.label_carrier in ("", "USPS")


def _loop_docs(ret):
    assert ret.associated_ref == "LOOP-1673"
    assert ret.refunded_amount == Decimal("20.00")  # a JSON number, read exactly
    assert ret.units.exists()


def _hr_asn(ret):
    (unit,) = ret.units.all()
    assert (unit.external_id, unit.platform_sku, unit.price_known) == (
        "13377523220546-0-5",
        "nomshrts-1",
        False,
    )
    assert (ret.order_ref, ret.customer_email, ret.currency) == (
        "272034",
        "customer@example.com",
        "USD",  # the connection's: the body has none
    )


def _hr_label(ret):
    assert ret.label_tracking == "HR2ABCDEFGHI"
    assert ret.label_updated_at is not None


EXPECTED = {
    "loop/aurate_2020_webhook_return_created.json": _aurate,
    "loop/aurate_2020_webhook_return_updated_closed.json": _aurate,
    "loop/loop_docs_return_webhook_example_partial.json": _loop_docs,
    "happy_returns/hr_docs_return_asn_example_partial.json": _hr_asn,
    "happy_returns/hr_docs_return_label_update_example.json": _hr_label,
}
