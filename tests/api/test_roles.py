"""One user per team: each can do its work and cannot do another team's."""

import io

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from reconciliation.models import CreditNote
from returns_hub.roles import MATRIX
from tests import factories

pytestmark = pytest.mark.django_db

SKU_ROW = {"platform": "loop", "platform_sku": "RAINJKT-STONE-S", "stock_code": "HF-OUT-RNC-STN-S"}
CUSTOMER_ROW = {"email": "New.Customer@Example.com", "urn": "WEB99999"}
RULE_ROW = {
    "name": "Small hand-raised notes",
    "cause": "raised_by_hand",
    "auto_accept_up_to": "1.00",
}

# (method, url, body) → the roles that may; every other role gets 403.
CASES = [
    ("get", "/api/v1/returns/", None, {"finance", "warehouse", "cx", "data", "admin"}),
    ("get", "/api/v1/exceptions/", None, {"finance", "warehouse", "cx", "data", "admin"}),
    ("get", "/api/v1/postings/", None, {"finance", "cx", "data", "admin"}),
    ("get", "/api/v1/inbox/", None, {"data", "admin"}),
    ("get", "/api/v1/connections/", None, {"data", "admin"}),
    ("get", "/api/v1/khaos/channels/", None, {"data", "admin"}),
    ("get", "/api/v1/khaos/uploads/", None, {"data", "admin"}),
    ("get", "/api/v1/write-backs/", None, {"data", "admin"}),
    ("get", "/api/v1/mappings/skus/", None, {"finance", "data", "admin"}),
    ("get", "/api/v1/mappings/dispositions/", None, {"finance", "warehouse", "data", "admin"}),
    ("get", "/api/v1/mappings/customers/", None, {"finance", "cx", "data", "admin"}),
    ("get", "/api/v1/khaos/return-reasons/", None, {"finance", "warehouse", "cx", "data", "admin"}),
    ("post", "/api/v1/mappings/skus/", SKU_ROW, {"data", "admin"}),
    ("post", "/api/v1/mappings/customers/", CUSTOMER_ROW, {"cx", "data", "admin"}),
    ("get", "/api/v1/reconciliation/periods/2025-03/", None, {"finance", "admin"}),
    ("get", "/api/v1/reconciliation/differences/?period=2025-03", None, {"finance", "admin"}),
    ("get", "/api/v1/reconciliation/rules/", None, {"finance", "admin"}),
    ("post", "/api/v1/reconciliation/rules/", RULE_ROW, {"finance", "admin"}),
    ("get", "/api/v1/reconciliation/acceptances/", None, {"finance", "admin"}),
]
ROLES = ["finance", "warehouse", "cx", "data", "admin", "nobody"]


def credit_note_upload() -> dict:
    """A fresh multipart body: the credit note export with one hand-raised note."""
    upload = io.BytesIO(
        b"Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"
        b"CN0010488,SR0007738,,12/03/2025,GBP,12.50,2.50,15.00\r\n"
    )
    upload.name = "credit_note_export.csv"
    return {"file": upload}


def acceptance_body() -> dict:
    """Accepting a credit note raised by hand in Khaos: an open difference."""
    note = CreditNote.objects.create(
        code="CN-ROLES",
        issued_on="2025-03-12",
        net="12.50",
        tax="2.50",
        gross="15.00",
        currency="GBP",
    )
    return {"key": f"raised_by_hand:{note.pk}", "note": "Goodwill credit"}


# Uploads (a body made afresh per request, sent as multipart).
UPLOADS = [
    ("post", "/api/v1/reconciliation/credit-notes/", credit_note_upload, {"finance", "admin"}),
    ("post", "/api/v1/reconciliation/acceptances/", acceptance_body, {"finance", "admin"}),
]


@pytest.mark.parametrize(("method", "url", "body", "allowed"), CASES + UPLOADS)
@pytest.mark.parametrize("role", ROLES)
def test_api_permission_matrix(api_client_for, role, method, url, body, allowed):
    if callable(body):
        response = getattr(api_client_for(role), method)(url, body(), format="multipart")
    else:
        response = getattr(api_client_for(role), method)(url, body, format="json")
    if role in allowed:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/returns/", "/api/v1/mappings/skus/", "/api/schema/"])
def test_api_needs_authentication(url):
    assert APIClient().get(url).status_code in (401, 403)


def test_the_credit_note_upload_needs_authentication(db):
    response = APIClient().post(
        "/api/v1/reconciliation/credit-notes/", credit_note_upload(), format="multipart"
    )
    assert response.status_code == 401


def test_api_accepts_a_token(role_users):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=role_users["finance"])
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/returns/").status_code == 200
    assert APIClient(HTTP_AUTHORIZATION="Token wrong").get("/api/v1/returns/").status_code == 401


@pytest.mark.parametrize("url", ["/", "/admin/", "/api/docs/"])
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_groups_have_exactly_the_matrix(db):
    for team, perms in MATRIX.items():
        group = Group.objects.get(name=team)
        have = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert have == set(perms)


@pytest.mark.parametrize(
    ("role", "perm", "expected"),
    [
        ("warehouse", "returns_hub.grade_unit", True),
        ("finance", "returns_hub.grade_unit", False),
        ("finance", "returns_hub.approve_value", True),
        ("warehouse", "returns_hub.approve_value", False),
        ("cx", "returns_hub.approve_value", False),
        ("data", "returns_hub.change_skumapping", True),
        ("cx", "returns_hub.change_skumapping", False),
        ("data", "returns_hub.view_inboxdelivery", True),
        ("finance", "returns_hub.view_inboxdelivery", False),
        ("warehouse", "returns_hub.view_posting", False),
        ("data", "returns_hub.view_writeback", True),
        ("data", "returns_hub.retry_writeback", True),
        ("warehouse", "returns_hub.view_writeback", False),
        ("finance", "returns_hub.retry_writeback", False),
        ("cx", "returns_hub.view_writeback", False),
        ("nobody", "returns_hub.view_return", False),
    ],
)
def test_custom_permissions(role_users, role, perm, expected):
    assert role_users[role].has_perm(perm) is expected


def test_each_team_sees_the_admin_index_with_its_own_models(client, role_users):
    for team in ("finance", "warehouse", "cx", "data"):
        user = role_users[team]
        user.is_staff = True
        user.save()
        client.force_login(user)
        page = client.get("/admin/").content.decode()
        assert ("Inbox deliveries" in page) is (team == "data")
        assert ("Platform write-backs" in page) is (team == "data")
        assert ("SKU mappings" in page) is (team in ("finance", "data"))


def test_warehouse_cannot_open_the_postings_admin(client, role_users):
    user = role_users["warehouse"]
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get("/admin/returns_hub/posting/").status_code == 403
    posting = factories.PostingFactory()
    assert client.get(f"/admin/returns_hub/posting/{posting.pk}/change/").status_code == 403
