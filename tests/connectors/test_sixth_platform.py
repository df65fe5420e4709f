"""A new platform is a new package and one registry entry, nothing else."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from connectors import registry
from returns_hub.models import Return

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sixth(monkeypatch):
    monkeypatch.setattr(
        registry, "CONNECTOR_PACKAGES", [*registry.CONNECTOR_PACKAGES, "tests.example_platform"]
    )
    registry.load()
    yield registry.get("example")
    from returns_hub import platforms

    registry._connectors.pop("example")
    platforms._platforms.pop("example")


def test_a_sixth_platform_takes_webhooks_end_to_end(sixth, client):
    out = StringIO()
    call_command(
        "set_connection",
        "example",
        "hf-example",
        "--webhook-secret",
        "s3cret-0123456789",
        stdout=out,
    )
    assert "Created Example Returns connection" in out.getvalue()
    body = json.dumps(
        {
            "event": "return.created",
            "return": {
                "id": "77",
                "order": "#5005",
                "email": "a@example.com",
                "sku": "X",
                "price": "9.99",
            },
        }
    ).encode()
    signature = sixth.signature_for({}).compute("s3cret-0123456789", body)
    response = client.post(
        "/webhooks/example/hf-example/",
        body,
        "application/json",
        HTTP_X_EXAMPLE_SIGNATURE=signature,
    )
    assert response.status_code == 202
    ret = Return.objects.get()
    assert (ret.associated_ref, ret.order_ref, ret.units.count()) == ("EX-77", "5005", 1)
