"""The rules a finance lead and a warehouse manager rely on, driven through the engine.

Each test fails on an engine that holds in silence, reopens what a person
closed, posts before the settlement, re-checks a closed exchange, confirms a
cancelled order, or never posts for want of a channel.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from returns_hub.choices import PostingState
from returns_hub.models import ExceptionCase, Posting, SkuMapping, StockLevel
from returns_hub.services import actions, deadlines, engine, postings
from returns_hub.services.errors import ActionError
from returns_hub.services.locks import lock_return
from returns_hub.services.timeline import By
from tests.engine_events import (
    apply,
    apply_together,
    exchange,
    graded,
    opened,
    refunded,
    unit,
)

pytestmark = pytest.mark.django_db

EMAIL = "eleanor.whitfield@example.com"  # WEB10231 in the customer table


def open_kinds(ret):
    return sorted(ret.exceptions.filter(status="open").values_list("kind", flat=True))


def evaluate_at(ret, now):
    with transaction.atomic():
        engine.evaluate(lock_return(ret), now=now)
    ret.refresh_from_db()
    return ret


# --- ignore: handled outside the hub --------------------------------------------------


def test_ignoring_a_blocking_cause_withdraws_the_document_for_good(workspace, role_users):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened("RB-IGN", [unit("1", "NOT-IN-KHAOS", "35.00")], order="1043", email=EMAIL),
        graded("RB-IGN", "1", "restocked"),
    )
    case = ret.exceptions.get(status="open")
    assert (case.kind, ret.postings.get().state) == ("unknown_sku", PostingState.HELD)

    actions.ignore_exception(case, user=role_users["data"], note="Credited by hand in Khaos")

    posting = ret.postings.get()
    assert posting.state == PostingState.WITHDRAWN
    assert posting.withdrawn_reason == "handled outside the hub: Credited by hand in Khaos"
    assert posting.withdrawn_by == role_users["data"]
    # The SKU is fixed later: the hub still never posts it, and the case stays ignored.
    SkuMapping.objects.create(
        platform="rebound", platform_sku="NOT-IN-KHAOS", stock_code="HF-ACC-SCF-LAM-GRY"
    )
    ret = evaluate_at(ret, timezone.now())
    assert ret.postings.get().state == PostingState.WITHDRAWN
    assert ret.exceptions.get().status == "ignored"
    assert ret.timeline.filter(kind="posting_withdrawn").count() == 1


def test_an_ignored_value_mismatch_is_an_approval(workspace, role_users):
    reveni = workspace.connections["reveni"]
    ret = apply_together(
        reveni,
        opened(
            "RVN-IGN",
            [unit("r", "HF-KNT-MCR-OAT-M", "50.00", reason="not_as_described")],
            order="1023",
            email=EMAIL,
        ),
        refunded("RVN-IGN", "45.00"),
    )
    case = ret.exceptions.get(status="open", kind="value_mismatch")
    actions.ignore_exception(case, user=role_users["finance"], note="Agreed goodwill")
    posting = ret.postings.get()
    assert posting.state == PostingState.READY
    ret.refresh_from_db()
    assert ret.value_approved_amount == Decimal("45.00")


def test_a_resolved_posting_unconfirmed_never_reopens(workspace, role_users):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened("RB-UNC", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043", email=EMAIL),
        graded("RB-UNC", "1", "restocked"),
    )
    Posting.objects.filter(return_ref=ret).update(confirm_by=timezone.now() - timedelta(hours=1))
    assert postings.flag_unconfirmed() == 1
    case = ExceptionCase.objects.get(kind="posting_unconfirmed")
    actions.resolve_exception(case, user=role_users["finance"], note="Found it raised as CN-0042")
    for _hour in range(3):  # the hourly task runs on: the case stays resolved
        assert postings.flag_unconfirmed() == 0
    assert ExceptionCase.objects.filter(kind="posting_unconfirmed").count() == 1


def test_resolving_a_cause_that_is_still_there_is_refused(workspace, role_users):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened("RB-RES", [unit("1", "NOT-IN-KHAOS", "35.00")], order="1043", email=EMAIL),
        graded("RB-RES", "1", "restocked"),
    )
    case = ret.exceptions.get(status="open")
    with pytest.raises(ActionError, match="the cause is still there"):
        actions.resolve_exception(case, user=role_users["data"], note="done")
    case.refresh_from_db()
    assert case.status == "open"


# --- settlement before posting ----------------------------------------------------------


def loop_graded(workspace, rid="LOOP-SET", price="59.00"):
    return apply_together(
        workspace.connections["loop"],
        opened(rid, [unit("1", "HF-KNT-MCR-NVY-M", price)], order="1002", email=EMAIL),
        graded(rid, "1", "back_to_stock"),
    )


def test_a_graded_loop_return_waits_for_the_settlement_then_is_checked(workspace):
    ret = loop_graded(workspace)
    assert not ret.postings.exists() and not open_kinds(ret)  # waiting, not held

    ret = apply(workspace.connections["loop"], refunded("LOOP-SET", "50.00"))

    assert open_kinds(ret) == ["value_mismatch"]  # checked before Khaos is told
    assert ret.postings.get().state == PostingState.HELD


def test_past_the_wait_it_is_settlement_missing_which_finance_releases(workspace, role_users):
    ret = loop_graded(workspace)
    later = timezone.now() + timedelta(hours=25)
    assert deadlines.overdue(later) == [ret.pk]
    assert deadlines.overdue(timezone.now()) == []

    ret = evaluate_at(ret, later)

    case = ret.exceptions.get(status="open")
    assert (case.kind, case.owner) == ("settlement_missing", "finance")
    assert ret.postings.get().state == PostingState.HELD
    actions.resolve_exception(case, user=role_users["finance"], note="Loop confirmed by phone")
    posting = ret.postings.get()
    assert (posting.state, posting.expected_credit) == (PostingState.READY, Decimal("59.00"))


def test_a_settlement_after_posting_changes_nothing_and_says_so(workspace):
    ret = loop_graded(workspace)
    ret = apply(workspace.connections["loop"], refunded("LOOP-SET", "59.00"))
    document = ret.postings.get().document
    ret = apply(workspace.connections["loop"], refunded("LOOP-SET", "5.00", reference="R2"))
    assert ret.postings.get().document == document
    assert not open_kinds(ret)
    assert (
        "goes to reconciliation"
        in ret.timeline.filter(kind="platform_refund_issued").last().message
    )


def test_set_connection_settlement_wait_zero_posts_on_the_grade(workspace):
    call_command("set_connection", "loop", "hf-loop", "--settlement-wait-hours", "0")
    ret = loop_graded(workspace)
    assert ret.postings.get().state == PostingState.READY


# --- exchanges --------------------------------------------------------------------------


def swap_with_exchange(workspace, rid="SW-X"):
    return apply_together(
        workspace.connections["swap"],
        opened(
            rid,
            [unit("1", "HF-DRS-WRP-SAG-10", "74.17", "14.83")],
            order="1031",
            email=EMAIL,
            exchanges=[exchange("1", "HF-DNM-SLM-IND-3432", "89.00")],
        ),
    )


def stock_arrives():
    level = StockLevel.objects.get(product__stock_code="HF-DNM-SLM-IND-3432", site_id=1)
    level.available = Decimal("5")
    level.save()


def test_an_ignored_unavailable_exchange_is_closed_for_good(workspace, role_users):
    ret = swap_with_exchange(workspace)
    case = ret.exceptions.get(kind="exchange_unavailable")
    actions.ignore_exception(case, user=role_users["cx"], note="Refunded instead")
    stock_arrives()
    ret = evaluate_at(ret, timezone.now())
    assert ret.exchanges.get().state == "closed"
    assert not Posting.objects.filter(kind="exchange_order").exists()


def test_an_open_unavailable_exchange_is_placed_once_when_stock_arrives(workspace):
    ret = swap_with_exchange(workspace)
    stock_arrives()
    for _ in range(2):
        ret = evaluate_at(ret, timezone.now())
    order = Posting.objects.get(kind="exchange_order")
    assert (order.associated_ref, order.state) == ("SWAP-SW-X-X", PostingState.READY)
    assert ret.exceptions.get(kind="exchange_unavailable").status == "resolved"


def test_a_khaos_cancelled_exchange_order_is_for_cx_never_a_confirmation(workspace):
    from connectors.khaos import channel as khaos

    ret = swap_with_exchange(workspace)
    stock_arrives()
    evaluate_at(ret, timezone.now())
    khaos.serve(workspace.channel, "exchange_order", token=None, specific=None)
    khaos.apply_order_statuses(
        workspace.channel,
        {"Statuses": [{"AssociatedRef": "SWAP-SW-X-X", "OrderCode": "SO1", "Status": "Cancelled"}]},
    )
    order = Posting.objects.get(kind="exchange_order")
    assert (order.state, order.confirmed_at) == (PostingState.CANCELLED, None)
    case = ret.exceptions.get(kind="exchange_cancelled")
    assert (case.owner, case.status, case.posting) == ("cx", "open", order)
    assert ret.exchanges.get().state == "cancelled"


# --- the channel ----------------------------------------------------------------------


def test_a_connection_without_a_channel_holds_with_channel_incomplete(workspace):
    rb = workspace.connections["rebound"]
    rb.khaos_channel = None
    rb.save()
    ret = apply_together(
        rb,
        opened("RB-NOCH", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043", email=EMAIL),
        graded("RB-NOCH", "1", "restocked"),
    )
    case = ret.exceptions.get(status="open")
    assert (case.kind, case.owner) == ("channel_incomplete", "data")
    posting = ret.postings.get()
    assert (posting.state, posting.channel) == (PostingState.HELD, None)

    call_command("set_connection", "rebound", "hf-rebound", "--channel", "hf")
    ret = evaluate_at(ret, timezone.now())
    posting = ret.postings.get()
    assert (posting.state, posting.channel) == (PostingState.READY, workspace.channel)


def test_exchange_orders_wait_for_the_channels_sales_source_and_company_class(workspace):
    workspace.channel.sales_source = ""
    workspace.channel.company_class_id = ""
    workspace.channel.save()
    stock_arrives()
    ret = swap_with_exchange(workspace)
    case = ret.exceptions.get(status="open")
    assert (case.kind, case.owner) == ("channel_incomplete", "data")
    assert "sales source" in case.message and "company class" in case.message
    assert not Posting.objects.filter(kind="exchange_order").exists()

    call_command(
        "set_khaos_channel",
        "hf",
        "--username",
        "khaos",
        "--password",
        "pw",
        "--sales-source",
        "Web",
        "--company-class",
        "Retail",
    )
    ret = evaluate_at(ret, timezone.now())
    order = Posting.objects.get(kind="exchange_order")
    assert order.payload["Customer"]["CompanyClass"] == {"Name": "Retail"}
    assert order.payload["Header"]["SalesSource"] == {"Name": "Web"}


# --- units not arrived ---------------------------------------------------------------


def test_units_refunded_before_inspection_and_not_arrived_are_flagged_then_cleared(
    workspace, role_users
):
    hr = workspace.connections["happy-returns"]
    ret = apply_together(
        hr,
        opened("HR-NA", [unit("1", "HF-KNT-MCR-NVY-M", "59.00")], order="1011", email=EMAIL),
        refunded("HR-NA", "59.00"),
    )
    assert not open_kinds(ret)
    later = ret.refunded_at + timedelta(days=22)
    assert deadlines.overdue(later) == [ret.pk]
    ret = evaluate_at(ret, later)
    case = ret.exceptions.get(status="open")
    assert (case.kind, case.owner) == ("units_not_arrived", "warehouse")

    actions.receive_unit(ret.units.get(), user=role_users["warehouse"])
    case.refresh_from_db()
    assert case.status == "resolved"


# --- tolerance ------------------------------------------------------------------------


def test_hub_value_tolerance_is_the_default_and_a_connection_may_override(workspace, settings):
    settings.HUB = {**settings.HUB, "VALUE_TOLERANCE": Decimal("5.00")}
    reveni = workspace.connections["reveni"]
    events = [
        opened(
            "RVN-TOL",
            [unit("r", "HF-KNT-MCR-OAT-M", "50.00", reason="not_as_described")],
            order="1023",
            email=EMAIL,
        ),
        refunded("RVN-TOL", "47.00"),
    ]
    ret = apply_together(reveni, *events)
    assert ret.postings.get().state == PostingState.READY  # 3.00 is within the hub's 5.00

    reveni.value_tolerance = Decimal("1.00")
    reveni.save()
    events[0] = opened("RVN-TOL2", events[0].units, order="1023", email=EMAIL)
    ret = apply_together(reveni, events[0], refunded("RVN-TOL2", "47.00"))
    assert open_kinds(ret) == ["value_mismatch"]


def test_every_move_of_a_posting_is_a_conditional_update(workspace):
    """A second writer that finds the posting moved on changes nothing."""
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened("RB-CU", [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1043", email=EMAIL),
        graded("RB-CU", "1", "restocked"),
    )
    posting = ret.postings.get()
    stale = Posting.objects.get(pk=posting.pk)  # what a second worker read
    postings.mark_served([posting])
    by = By("task")
    assert postings.withdraw(stale, reason="late cancellation", by=by) is False
    posting.refresh_from_db()
    assert (posting.state, posting.withdrawn_at) == (PostingState.DOWNLOADED, None)
    assert postings.confirm(posting, ref="CN1", by=by) is True
    assert postings.confirm(stale, ref="CN2", by=by) is False
    posting.refresh_from_db()
    assert posting.confirmation_ref == "CN1"
