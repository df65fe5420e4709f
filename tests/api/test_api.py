"""The REST API: filters, detail, mapping CRUD with the CSV field names, keyset pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import KhaosReturnReason, ReasonMapping
from tests import factories

pytestmark = pytest.mark.django_db


def _returns(n, **kwargs):
    rets = [factories.ReturnFactory(**kwargs) for _ in range(n)]
    for ret in rets:
        factories.ReturnUnitFactory(return_ref=ret)
        factories.TimelineEntryFactory(return_ref=ret)
    return rets


def test_returns_filters(api_client_for):
    loop = factories.PlatformConnectionFactory(platform="loop")
    swap = factories.PlatformConnectionFactory(platform="swap")
    a = factories.ReturnFactory(
        connection=loop, external_id="5001", order_ref="1001", customer_email="a@example.com"
    )
    b = factories.ReturnFactory(
        connection=swap, external_id="40012", order_ref="1031", state="received"
    )
    client = api_client_for("cx")

    def ids(**params):
        return [r["id"] for r in client.get("/api/v1/returns/", params).json()["results"]]

    assert ids(external_id="5001") == [a.pk]
    assert ids(platform="swap") == [b.pk]
    assert ids(state="received") == [b.pk]
    assert ids(order_ref="#1001") == [a.pk]
    assert ids(customer_email="A@Example.com") == [a.pk]
    assert ids() == [b.pk, a.pk]
    assert client.get("/api/v1/returns/", {"state": "bogus"}).status_code == 400


def test_return_list_query_count_does_not_grow_with_rows(api_client_for):
    client = api_client_for("finance")
    _returns(3)
    client.get("/api/v1/returns/")  # warm the user's permission cache
    with CaptureQueriesContext(connection) as small:
        assert client.get("/api/v1/returns/").status_code == 200
    _returns(30)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get("/api/v1/returns/").json()["results"]) == 33
    assert len(large) == len(small)


def test_return_detail_carries_units_exchanges_postings_timeline(
    api_client_for, django_assert_max_num_queries
):
    ret = factories.ReturnFactory(associated_ref="LOOP-5001")
    factories.ReturnUnitFactory.create_batch(3, return_ref=ret)
    factories.TimelineEntryFactory.create_batch(4, return_ref=ret)
    factories.PostingFactory(return_ref=ret)
    factories.ExceptionCaseFactory(return_ref=ret)
    with django_assert_max_num_queries(12):
        body = api_client_for("cx").get(f"/api/v1/returns/{ret.pk}/").json()
    assert body["associated_ref"] == "LOOP-5001"
    assert len(body["units"]) == 3
    assert body["units"][0]["expected_credit"] == "29.99"
    assert len(body["timeline"]) == 4
    assert [p["associated_ref"] for p in body["postings"]] == ["LOOP-5001"]
    assert body["exceptions"][0]["kind"] == "unknown_sku"
    assert body["exchanges"] == []


def test_keyset_pages_walk_every_row_once(api_client_for):
    rets = _returns(25)
    client = api_client_for("finance")
    seen, url = [], "/api/v1/returns/?page_size=10"
    while url:
        page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == sorted((r.pk for r in rets), reverse=True)
    assert "page=" not in (client.get("/api/v1/returns/?page_size=10").json()["next"] or "")


def test_mapping_tables_use_the_csv_field_names(api_client_for):
    client = api_client_for("data")
    reason = client.post(
        "/api/v1/khaos/return-reasons/",
        {"id": 3, "name": "Inspected resaleable", "processing_type": "return_to_stock"},
        format="json",
    )
    assert reason.status_code == 201, reason.content
    created = client.post(
        "/api/v1/mappings/reasons/",
        {"platform": "loop", "reason": "Too big", "khaos_return_reason_id": 3},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert set(created.json()) == {"id", "platform", "reason", "khaos_return_reason_id"}
    row_id = created.json()["id"]
    updated = client.patch(
        f"/api/v1/mappings/reasons/{row_id}/", {"reason": "Too large"}, format="json"
    )
    assert updated.json()["reason"] == "Too large"
    assert ReasonMapping.objects.get().history.count() == 2
    assert client.delete(f"/api/v1/mappings/reasons/{row_id}/").status_code == 204

    bad = client.post(
        "/api/v1/mappings/dispositions/",
        {
            "platform": "myspace",
            "disposition": "x",
            "stock_action": "restock",
            "khaos_return_reason_id": 99,
            "site_id": 1,
        },
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"platform", "khaos_return_reason_id"}
    assert KhaosReturnReason.objects.count() == 1


def test_customer_mapping_emails_are_normalised_and_unique(api_client_for):
    client = api_client_for("cx")
    first = client.post(
        "/api/v1/mappings/customers/", {"email": " Zoe@Example.NET ", "urn": "WEB1"}, format="json"
    )
    assert first.json()["email"] == "zoe@example.net"
    again = client.post(
        "/api/v1/mappings/customers/", {"email": "ZOE@example.net", "urn": "WEB2"}, format="json"
    )
    assert again.status_code == 400
    assert "already mapped" in str(again.json())
    assert (
        client.get("/api/v1/mappings/customers/", {"email": "Zoe@example.net"}).json()["results"][
            0
        ]["urn"]
        == "WEB1"
    )


def test_connections_api_masks_secrets_and_channels_hide_passwords(api_client_for):
    factories.PlatformConnectionFactory(webhook_secret="whsec_supersecretvalue", api_key="k" * 30)
    body = api_client_for("data").get("/api/v1/connections/").json()["results"][0]
    assert body["webhook_secret"] == "••••••••alue"
    assert "supersecret" not in str(body)
    assert (body["currency"], body["time_zone"]) == ("GBP", "Europe/London")
    channel = api_client_for("data").get("/api/v1/khaos/channels/").json()["results"][0]
    assert not any("password" in key for key in channel)
    assert channel["source_reference_key"] == "SourceReference"


def test_exceptions_filter_by_kind_status_owner(api_client_for):
    a = factories.ExceptionCaseFactory(kind="unknown_sku")
    b = factories.ExceptionCaseFactory(kind="value_mismatch", owner="finance")
    client = api_client_for("finance")

    def ids(**params):
        return [r["id"] for r in client.get("/api/v1/exceptions/", params).json()["results"]]

    assert ids(kind="unknown_sku") == [a.pk]
    assert ids(owner="finance") == [b.pk]
    assert ids(status="open") == [b.pk, a.pk]
    assert ids(status="resolved") == []


def test_postings_filter_by_state_and_kind(api_client_for):
    ready = factories.PostingFactory(state="ready")
    factories.PostingFactory(state="held")
    got = api_client_for("finance").get("/api/v1/postings/", {"state": "ready", "kind": "return"})
    assert [p["id"] for p in got.json()["results"]] == [ready.pk]


def test_openapi_schema_and_docs(client, role_users):
    client.force_login(role_users["cx"])
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in [
        "/api/v1/returns/",
        "/api/v1/returns/{id}/",
        "/api/v1/exceptions/",
        "/api/v1/postings/",
        "/api/v1/mappings/skus/",
        "/api/v1/mappings/reasons/",
        "/api/v1/mappings/dispositions/",
        "/api/v1/mappings/customers/",
        "/api/v1/khaos/return-reasons/",
    ]:
        assert path in paths
    assert client.get("/api/docs/").status_code == 200
