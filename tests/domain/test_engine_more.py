"""Deadlines, connection money settings, and re-evaluation from the admin."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from returns_hub import tasks
from returns_hub.models import ExceptionCase, Posting
from returns_hub.services import value
from tests.engine_events import apply_together, graded, opened, refunded, unit

pytestmark = pytest.mark.django_db


def _posted(workspace, rid="RB-D1"):
    return apply_together(
        workspace.connections["rebound"],
        opened(
            rid,
            [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="1043",
            email="catherine.doyle@example.com",
        ),
        graded(rid, "1", "restocked"),
    )


def test_a_posting_unconfirmed_after_its_deadline_is_a_finance_exception(workspace):
    ret = _posted(workspace)
    posting = ret.postings.get()
    assert posting.confirm_by - posting.ready_at == timedelta(days=7)

    assert tasks.flag_unconfirmed_postings() == 0  # not yet due
    Posting.objects.filter(pk=posting.pk).update(confirm_by=timezone.now() - timedelta(hours=1))
    assert tasks.flag_unconfirmed_postings() == 1
    assert tasks.flag_unconfirmed_postings() == 0  # one open exception per cause
    case = ExceptionCase.objects.get()
    assert (case.kind, case.owner, case.return_ref) == ("posting_unconfirmed", "finance", ret)
    assert "RB-D1" in case.message


def test_handling_fee_and_refunded_shipping_follow_the_connection(workspace):
    loop = workspace.connections["loop"]
    loop.credit_handling_fee = True
    loop.credit_refunded_shipping = True
    loop.save()
    event = opened("L-FEE", [unit("1", "HF-TEE-ORG-WHT-M", "24.99", "5.00")], order="1")
    event = type(event)(
        **{**event.__dict__, "handling_fee": Decimal("3.00"), "shipping_refunded": Decimal("4.95")}
    )
    ret = apply_together(loop, event)
    assert value.expected_credit(ret, list(ret.units.all())) == Decimal("31.94")


def test_reevaluation_runs_once_per_batch_however_many_rows_change(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from returns_hub.models import SkuMapping

    # (Customer rows re-evaluate only their customers' returns: test_incomplete_address.py.)
    calls = []
    monkeypatch.setattr("returns_hub.signals.async_task", lambda *a, **k: calls.append(a))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for n in range(5):
            SkuMapping.objects.create(platform="loop", platform_sku=f"BULK-{n}", stock_code="X")
    assert len(calls) == 1
    task, kinds = calls[0]
    assert task == "returns_hub.tasks.reevaluate_held"
    assert "unknown_sku" in kinds


def test_a_mapping_row_added_in_the_admin_releases_what_it_held(
    workspace, client, role_users, django_capture_on_commit_callbacks
):
    ret = apply_together(
        workspace.connections["reveni"],
        opened(
            "RVN-ADM",
            [unit("1", "HF-TEE-ORG-WHT-M", "24.99", "5.00", reason="lost_interest")],
            order="1050",
            email="fiona.macleod@example.com",
        ),
        refunded("RVN-ADM", "29.99"),
    )
    assert ret.postings.get().state == "held"
    client.force_login(role_users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:returns_hub_reasonmapping_add"),
            {
                "platform": "reveni",
                "reason": "lost_interest",
                "khaos_return_reason": 1,
            },
        )
    assert response.status_code == 302
    assert ret.postings.get().state == "ready"
    assert ret.postings.get().payload["ReturnedItems"][0]["ReturnReason"] == {"ID": "1"}
