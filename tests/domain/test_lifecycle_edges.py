"""Edges a review found: ways to hold in silence, approve the unseen, or post the wrong thing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.khaos import channel as khaos
from returns_hub.choices import PostingState
from returns_hub.models import CustomerMapping, DispositionMapping, Posting, StockLevel
from returns_hub.services import actions, engine, postings
from returns_hub.services.errors import ActionError
from returns_hub.services.locks import lock_return
from returns_hub.services.timeline import TASK
from tests.engine_events import apply, apply_together, exchange, graded, opened, refunded, unit

pytestmark = pytest.mark.django_db

EMAIL = "eleanor.whitfield@example.com"


def open_kinds(ret):
    return sorted(ret.exceptions.filter(status="open").values_list("kind", flat=True))


def reveni(workspace, rid, price, refund, sku="HF-KNT-MCR-OAT-M"):
    return apply_together(
        workspace.connections["reveni"],
        opened(rid, [unit("r", sku, price, reason="not_as_described")], order="1023", email=EMAIL),
        refunded(rid, refund),
    )


def test_a_new_settlement_after_an_ignored_mismatch_is_a_new_case_not_a_silent_hold(
    workspace, role_users
):
    ret = reveni(workspace, "RVN-E1", "50.00", "45.00", sku="UNKNOWN-SKU")
    case = ret.exceptions.get(kind="value_mismatch")
    actions.ignore_exception(case, user=role_users["finance"], note="Goodwill agreed")

    ret = apply(workspace.connections["reveni"], refunded("RVN-E1", "5.00", reference="R2"))
    ret = apply(workspace.connections["reveni"], refunded("RVN-E1", "3.00", reference="R3"))

    assert ret.postings.get().state == PostingState.HELD
    assert open_kinds(ret) == ["unknown_sku", "value_mismatch"]
    assert ret.exceptions.get(status="open", kind="value_mismatch").details["settled"] == "53.00"


def test_finance_approves_the_settlement_the_case_shows_and_no_other(workspace, role_users):
    ret = reveni(workspace, "RVN-E2", "50.00", "45.00")
    shown = ret.exceptions.get(status="open", kind="value_mismatch")
    ret = apply(workspace.connections["reveni"], refunded("RVN-E2", "30.00", reference="R2"))

    with pytest.raises(ActionError, match="already resolved"):
        actions.resolve_exception(shown, user=role_users["finance"], note="45 agreed")
    ret = actions.approve_value(ret, user=role_users["finance"], note="75 agreed with Reveni")
    assert ret.value_approved_amount == Decimal("75.00")
    assert ret.postings.get().state == PostingState.READY


def test_a_later_refund_neither_restarts_nor_closes_units_not_arrived(workspace):
    hr = workspace.connections["happy-returns"]
    ret = apply_together(
        hr,
        opened("HR-E3", [unit("1", "HF-KNT-MCR-NVY-M", "59.00")], order="1011", email=EMAIL),
        refunded("HR-E3", "59.00"),
    )
    type(ret).objects.filter(pk=ret.pk).update(refunded_at=timezone.now() - timedelta(days=25))
    with transaction.atomic():
        engine.evaluate(lock_return(ret))
    assert open_kinds(ret) == ["units_not_arrived"]

    ret = apply(hr, refunded("HR-E3", "4.99", reference="shipping"))

    assert open_kinds(ret) == ["units_not_arrived"]  # the goods are still missing


def test_ignoring_an_exchanges_unknown_customer_closes_that_exchange_only(workspace, role_users):
    workspace.channel.default_urn = ""
    workspace.channel.save()
    StockLevel.objects.filter(product__stock_code="HF-DNM-SLM-IND-3432").update(available=5)
    ret = apply_together(
        workspace.connections["swap"],
        opened(
            "SW-E5",
            [unit("1", "HF-DRS-WRP-SAG-10", "89.00")],
            order="1031",
            email="nobody@example.com",
            exchanges=[exchange("1", "HF-DNM-SLM-IND-3432", "89.00")],
        ),
    )
    case = ret.exceptions.get(status="open")
    assert (case.kind, case.details["exchange_id"]) == ("unknown_customer", ret.exchanges.get().pk)

    actions.ignore_exception(case, user=role_users["cx"], note="Sent by hand from the shop")
    CustomerMapping.objects.create(email="nobody@example.com", urn="WEB99999")
    with transaction.atomic():
        engine.evaluate(lock_return(ret))

    assert ret.exchanges.get().state == "closed"
    assert not Posting.objects.filter(kind="exchange_order").exists()
    assert not ret.postings.filter(state=PostingState.WITHDRAWN).exists()  # the credit note is fine


def test_a_keep_item_row_that_restocks_holds_the_return_even_if_saved_around_the_rule(workspace):
    # An old row, or one written by SQL: the engine still never restocks goods not coming back.
    DispositionMapping.objects.filter(platform="loop", disposition="keep_item").update(
        khaos_return_reason_id=1
    )
    ret = apply_together(
        workspace.connections["loop"],
        opened(
            "LOOP-E7",
            [unit("1", "HF-KNT-MCR-NVY-M", "59.00", outcome="keep_item")],
            order="1002",
            email=EMAIL,
        ),
        refunded("LOOP-E7", "59.00"),
    )
    case = ret.exceptions.get(status="open")
    assert case.kind == "unmapped_disposition"
    assert "restocks" in case.message
    assert ret.postings.get().state == PostingState.HELD


def test_a_specific_ids_poll_never_serves_a_withdrawn_posting(workspace):
    ret = apply_together(
        workspace.connections["rebound"],
        opened("RB-E1", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043", email=EMAIL),
        graded("RB-E1", "1", "restocked"),
    )
    posting = ret.postings.get()
    assert postings.withdraw(posting, reason="test", by=TASK)

    page = khaos.serve(workspace.channel, "return", token=None, specific="RB-RB-E1")
    postings.mark_served([posting])

    posting.refresh_from_db()
    assert page.texts == []
    assert (posting.state, posting.first_downloaded_at, posting.download_count) == (
        PostingState.WITHDRAWN,
        None,
        0,
    )


def test_a_posting_confirmed_before_the_check_is_not_flagged(workspace):
    ret = apply_together(
        workspace.connections["rebound"],
        opened("RB-E6", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043", email=EMAIL),
        graded("RB-E6", "1", "restocked"),
    )
    posting = ret.postings.get()
    Posting.objects.filter(pk=posting.pk).update(confirm_by=timezone.now() - timedelta(days=1))
    assert postings.confirm(posting, ref="CN-1", by=TASK)
    assert postings.flag_unconfirmed() == 0
    assert not ret.exceptions.exists()
    ret.refresh_from_db()
    assert ret.money_state == "confirmed"
