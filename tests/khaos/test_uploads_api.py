"""The API's list of Khaos pushes carries no bodies and never reads them; the detail does."""

import pytest

from returns_hub.models import KhaosUpload
from tests import factories
from tests.conftest import sql_log

pytestmark = pytest.mark.django_db


def test_upload_lists_carry_no_body_and_never_read_it(api_client_for):
    channel = factories.KhaosChannelFactory(slug="hf")
    body = b'{"Items": [], "Deleted": [], "pad": "' + b"x" * 50_000 + b'"}'
    kept = {"channel": channel, "status": "stored"}
    upload = KhaosUpload.objects.create(
        endpoint="stock", format="JSON", body=body, summary={"created": 0}, **kept
    )
    KhaosUpload.objects.create(endpoint="stock-status", format="XML", body=b"<x/>", **kept)
    client = api_client_for("data")

    with sql_log() as statements:
        listed = client.get("/api/v1/khaos/uploads/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert {row["endpoint"] for row in rows} == {"stock", "stock-status"}
    assert all("body" not in row for row in rows)
    assert rows[0]["channel"] == "hf"
    selects = [sql for sql in statements if 'FROM "returns_hub_khaosupload"' in sql]
    assert selects
    assert not any('"returns_hub_khaosupload"."body"' in sql for sql in selects)

    detail = client.get(f"/api/v1/khaos/uploads/{upload.pk}/").json()
    assert detail["body"] == body.decode()
    assert detail["summary"] == {"created": 0}
