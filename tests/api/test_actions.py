"""Warehouse, finance and exception actions through the REST API, per role."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returns_hub.models import ExceptionCase, Posting, SkuMapping
from tests.engine_events import apply, apply_together, graded, opened, refunded, unit

pytestmark = pytest.mark.django_db

HR = "hr-api-1"


@pytest.fixture
def hr_return(workspace):
    return apply(
        workspace.connections["happy-returns"],
        opened(
            HR,
            [
                unit("a", "HF-FTW-CHL-BRN-08", "100.00", "20.00"),
                unit("b", "HF-ACC-BNE-RIB-MUS", "18.33", "3.67"),
            ],
            order="1011",
            email="siobhan.oconnell@example.com",
        ),
    )


def _url(ret, unit_obj, verb):
    return f"/api/v1/returns/{ret.pk}/units/{unit_obj.pk}/{verb}/"


def test_warehouse_receives_and_grades_and_the_return_posts(hr_return, api_client_for):
    client = api_client_for("warehouse")
    first, second = hr_return.units.order_by("id")

    received = client.post(_url(hr_return, first, "receive"))
    assert received.status_code == 200
    assert received.json()["state"] == "received"
    assert client.post(_url(hr_return, first, "receive")).status_code == 200  # twice is fine

    for unit_obj in (first, second):
        response = client.post(
            _url(hr_return, unit_obj, "grade"), {"disposition": "sellable"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["khaos_return_reason"] == 3

    posting = Posting.objects.get()
    assert posting.state == "ready"
    assert posting.expected_credit == Decimal("142.00")
    detail = client.get(f"/api/v1/returns/{hr_return.pk}/").json()
    assert detail["state"] == "graded"
    assert any(e["cause"] == "user" and e["actor"] == "warehouse-user" for e in detail["timeline"])


@pytest.mark.parametrize("role", ["finance", "cx", "data", "nobody"])
def test_only_the_warehouse_grades(hr_return, api_client_for, role):
    unit_obj = hr_return.units.first()
    client = api_client_for(role)
    assert client.post(_url(hr_return, unit_obj, "receive")).status_code == 403
    grade = client.post(
        _url(hr_return, unit_obj, "grade"), {"disposition": "sellable"}, format="json"
    )
    assert grade.status_code == 403


def test_grading_needs_a_disposition_and_a_live_unit(hr_return, api_client_for, workspace):
    client = api_client_for("warehouse")
    unit_obj = hr_return.units.first()
    assert client.post(_url(hr_return, unit_obj, "grade"), {}, format="json").status_code == 400
    other = apply(
        workspace.connections["happy-returns"],
        opened("hr-other", [unit("z", "HF-TEE-ORG-WHT-M", "24.99", "5.00")]),
    )
    assert (
        client.post(
            _url(hr_return, other.units.get(), "grade"), {"disposition": "sellable"}, format="json"
        ).status_code
        == 404
    )
    from tests.engine_events import cancelled

    apply(workspace.connections["happy-returns"], cancelled(HR))
    gone = client.post(
        _url(hr_return, unit_obj, "grade"), {"disposition": "sellable"}, format="json"
    )
    assert gone.status_code == 409
    assert "cancelled" in gone.json()["error"]


@pytest.fixture
def unknown_sku_case(workspace):
    ret = apply(
        workspace.connections["loop"],
        opened("L-API", [unit("1", "RAINJKT-STONE-XL", "50.00", "10.00")], order="2001"),
    )
    return ret.exceptions.get(kind="unknown_sku")


@pytest.mark.parametrize("role", ["finance", "warehouse", "cx"])
def test_a_team_cannot_resolve_another_teams_exception(unknown_sku_case, api_client_for, role):
    url = f"/api/v1/exceptions/{unknown_sku_case.pk}/resolve/"
    assert api_client_for(role).post(url, {"note": "x"}, format="json").status_code == 403


def test_resolving_while_the_cause_remains_is_refused(unknown_sku_case, api_client_for):
    response = api_client_for("data").post(
        f"/api/v1/exceptions/{unknown_sku_case.pk}/resolve/", {"note": "looked"}, format="json"
    )
    assert response.status_code == 409
    assert "the cause is still there" in response.json()["error"]
    assert "RAINJKT-STONE-XL" in response.json()["error"]
    assert list(ExceptionCase.objects.filter(status="open")) == [unknown_sku_case]


def test_retry_moves_the_return_on_once_the_data_is_right(unknown_sku_case, api_client_for):
    # A row written without signals (a bulk load, say): retry picks it up.
    SkuMapping.objects.bulk_create(
        [
            SkuMapping(
                platform="loop", platform_sku="RAINJKT-STONE-XL", stock_code="HF-OUT-RNC-STN-L"
            )
        ]
    )
    response = api_client_for("data").post(f"/api/v1/exceptions/{unknown_sku_case.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert not ExceptionCase.objects.filter(status="open").exists()


def test_ignore_needs_a_note_and_does_not_reopen(unknown_sku_case, api_client_for):
    client = api_client_for("data")
    url = f"/api/v1/exceptions/{unknown_sku_case.pk}/ignore/"
    assert client.post(url, {}, format="json").status_code == 400
    response = client.post(url, {"note": "Test return from the shop floor"}, format="json")
    assert response.json()["status"] == "ignored"
    assert response.json()["resolution"] == "Test return from the shop floor"
    retry = client.post(f"/api/v1/exceptions/{unknown_sku_case.pk}/retry/")
    assert retry.status_code == 200
    assert not ExceptionCase.objects.filter(status="open").exists()
    assert client.post(url, {"note": "again"}, format="json").status_code == 409


def test_finance_approves_a_value_mismatch_through_the_api(workspace, api_client_for):
    ret = apply_together(
        workspace.connections["reveni"],
        opened(
            "RVN-API",
            [
                unit(
                    "r",
                    "HF-KNT-MCR-OAT-M",
                    "49.17",
                    "8.36",
                    discount="7.38",
                    reason="not_as_described",
                )
            ],
            order="1023",
            email="charlotte.pemberton@example.com",
        ),
        refunded("RVN-API", "48.15"),
    )
    url = f"/api/v1/returns/{ret.pk}/approve-value/"
    assert api_client_for("warehouse").post(url, {}, format="json").status_code == 403
    response = api_client_for("finance").post(url, {"note": "Agreed with Reveni"}, format="json")
    assert response.status_code == 200
    assert Posting.objects.get().state == "ready"
    assert api_client_for("finance").post(url, {}, format="json").status_code == 409


def test_exception_and_posting_lists_do_not_grow_queries_with_rows(workspace, api_client_for):
    client = api_client_for("data")
    loop = workspace.connections["loop"]
    apply(loop, opened("Q1", [unit("1", "NOPE-1", "10.00")], order="1"))
    client.get("/api/v1/exceptions/")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/exceptions/")
        client.get("/api/v1/postings/")
    for n in range(2, 12):
        apply_together(loop, opened(f"Q{n}", [unit("1", f"NOPE-{n}", "10.00")], order=str(n)))
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/exceptions/").json()["results"]) == 11
        client.get("/api/v1/postings/")
    assert len(many) == len(few)


def test_grading_a_unit_whose_return_has_posted_is_a_409_with_the_reason(workspace, api_client_for):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "RB-API",
            [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="1043",
            email="catherine.doyle@example.com",
        ),
        graded("RB-API", "1", "restocked"),
    )
    document = ret.postings.get().document
    unit_obj = ret.units.get()
    response = api_client_for("warehouse").post(
        _url(ret, unit_obj, "grade"), {"disposition": "written_off"}, format="json"
    )
    assert response.status_code == 409
    assert "RB-RB-API has already posted to Khaos" in response.json()["error"]
    assert ret.postings.get().document == document
    unit_obj.refresh_from_db()
    assert unit_obj.disposition == "restocked"  # the grade Khaos was told stands
    assert not ret.timeline.filter(kind="graded_by_user").exists()
