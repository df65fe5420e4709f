"""Schemathesis drives every operation of the REST API from its own OpenAPI schema.

The schema is the one the app serves at ``/api/schema/`` (made by the app's own
generator at collection, so each operation is a test of its own; the served
document is checked to be the same below). Every operation, the writes included,
gets the coverage phase (boundary and type-violating values) and fuzzing with a
fixed seed, as a superuser with a DRF token, through the app's WSGI handler. Every
answer must be no 5xx, a status the schema declares, the content type it declares
and a body matching its schema; schema-invalid input must be refused; unsupported
methods must be 405.

``positive_data_acceptance`` is left out: a schema-valid request can still be
refused for what no schema can say (a mapping naming a Khaos reason that does not
exist, a body id that is not the URL's). Those answers are 400 and are checked
for conformance like any other.

(``schemathesis.pytest.from_fixture`` would load the schema per test from
``/api/schema/``; schemathesis 4.32 cannot run it under pytest 9.2, which no longer
has the ``Function._nodeid`` it sets.)
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.wsgi import application
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExchangeRequest,
    InboxDelivery,
    KhaosReturnReason,
    KhaosUpload,
    ProductBarcode,
    ReasonMapping,
    SkuMapping,
    StockLevel,
    StoreCreditLiability,
)
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a DRF token key is 40 characters
AUTH = {"Authorization": f"Token {TOKEN}"}

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20_240_917,
        "headers": AUTH,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {"max-examples": 6, "database": "none", "mode": "all"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)


def _seed() -> None:
    """One row of everything, with the nulls the API can answer, so lists and details
    have bodies to check against the schema."""
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    held = factories.PlatformConnectionFactory(slug="no-channel", khaos_channel=None)
    ret = factories.ReturnFactory(refunded_at=when, platform_created_at=None)
    reason = KhaosReturnReason.objects.create(id=1, name="Damaged", processing_type="write_off")
    factories.KhaosReturnReasonFactory(id=2)
    product = factories.KhaosProductFactory(sell_price_gross=None)
    ProductBarcode.objects.create(product=product, barcode="5012345678900")
    StockLevel.objects.create(product=product, site_id=1, available=None, on_order=Decimal("2"))
    graded = factories.ReturnUnitFactory(
        return_ref=ret, product=product, khaos_return_reason=reason, site_id=1, graded_at=when
    )
    factories.ReturnUnitFactory(return_ref=ret)
    ExchangeRequest.objects.create(return_ref=ret, external_id="x1", platform_sku="SKU-X")
    StoreCreditLiability.objects.create(
        return_ref=ret,
        kind="store_credit",
        reference="GC-1",
        amount=Decimal("5.00"),
        currency="GBP",
    )
    factories.TimelineEntryFactory(return_ref=ret, unit=None, actor=None)
    factories.TimelineEntryFactory(return_ref=ret, unit=graded)
    factories.PostingFactory(return_ref=ret, channel=None)
    factories.PostingFactory(document='{"Header": {"Total": 1.10}}')
    factories.ExceptionCaseFactory(return_ref=ret, unit=graded, owner="data")
    factories.ExceptionCaseFactory(return_ref=None, kind="invalid_payload", owner="data")
    factories.ExceptionCaseFactory(return_ref=ret, kind="unmapped_reason", owner="data")
    SkuMapping.objects.create(platform="loop", platform_sku="SKU-1", stock_code=product.stock_code)
    ReasonMapping.objects.create(platform="loop", reason="too big", khaos_return_reason=reason)
    DispositionMapping.objects.create(
        platform="loop",
        disposition="damaged",
        stock_action="write_off",
        khaos_return_reason=reason,
        site_id=1,
    )
    CustomerMapping.objects.create(email="someone@example.com", urn="WEB1")
    InboxDelivery.objects.create(
        connection=held,
        source="webhook",
        topic="return.created",
        dedup_key="d1",
        headers={"X": "1"},
        body=b'{"id": 1}',
        status="processed",
    )
    KhaosUpload.objects.create(
        channel=ret.connection.khaos_channel,
        endpoint="stock",
        format="json",
        body=b"{}",
        status="stored",
        summary={"items": 1},
    )


def _load_schema():
    """The schema /api/schema/ serves (``test_the_fuzzed_schema_is_the_served_one``), made
    by the same generator; requests go to the Django app through WSGI."""
    loaded = schemathesis.openapi.from_dict(_generated(), config=CONFIG)
    loaded.app = application
    return loaded


def _generated() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


schema = _load_schema()


@pytest.fixture
def seeded(db):
    """The rows, in the test's transaction (rolled back after it). Requests go through the
    WSGI handler in this thread, on this connection; as Django's test client does, the
    handler is kept from closing it at each request's start and end."""
    user = get_user_model().objects.create_superuser("fuzz", "fuzz@example.com", "fuzz-pw-1")
    Token.objects.create(user=user, key=TOKEN)
    _seed()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
# The rows are made once per operation, not once per example: an example that changes
# them (a PUT, a DELETE) leaves that for the next, as a real client would.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_operation_answers_as_its_schema_says(case, seeded):
    case.call_and_validate()


def test_the_fuzzed_schema_is_the_served_one(seeded):
    served = APIClient(HTTP_AUTHORIZATION=AUTH["Authorization"]).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(_generated()))
