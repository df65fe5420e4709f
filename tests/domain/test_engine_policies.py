"""Every posting policy and seed failure mode, driven as the hub's own events.

Values are those of the fixtures (see tests/fixtures/README.md); the events
are what each platform's parser produces from them.
"""

from decimal import Decimal

import pytest

from returns_hub.choices import PostingState
from returns_hub.models import ExceptionCase, Posting, ReasonMapping
from returns_hub.services import actions, value
from tests.engine_events import (
    HR_ID,
    REVENI,
    apply,
    apply_together,
    cancelled,
    expired,
    graded,
    hr_1011,
    in_transit,
    opened,
    received,
    refunded,
    reveni_1021,
    shipment,
    unit,
)

pytestmark = pytest.mark.django_db


def items(posting):
    return [
        (
            i["SKU"],
            i["Quantity"],
            i["ReturnReason"]["ID"],
            i["UnitPrice"]["Gross"],
            i["SourceReference"]["SourceOrder"]["AssociatedRef"],
        )
        for i in posting.payload["ReturnedItems"]
    ]


def open_kinds(ret):
    return sorted(ret.exceptions.filter(status="open").values_list("kind", "owner"))


# --- on_inspection: Happy Returns ---------------------------------------------------


def test_refund_at_first_scan_is_recorded_not_posted(workspace):
    hr = workspace.connections["happy-returns"]
    ret = apply(hr, hr_1011(), in_transit(HR_ID), refunded(HR_ID, "141.99"))

    assert (ret.state, ret.money_state) == ("in_transit", "refunded")
    assert not Posting.objects.exists()  # refunded, awaiting goods: a timing difference
    assert not ret.exceptions.exists()  # -0.01 is within tolerance
    beanie = ret.units.get(external_id="e58b")
    assert beanie.product.stock_code == "HF-ACC-BNE-RIB-MUS"  # by barcode


def test_happy_returns_posts_once_the_warehouse_grades_both_units(workspace, role_users):
    hr = workspace.connections["happy-returns"]
    ret = apply(
        hr,
        hr_1011(),
        in_transit(HR_ID),
        refunded(HR_ID, "141.99"),
        shipment(HR_ID, "PLT-MK-000482", "a1d4", "e58b"),
    )
    assert set(ret.units.values_list("shipment__reference", flat=True)) == {"PLT-MK-000482"}

    boot, beanie = ret.units.order_by("id")
    actions.receive_unit(boot, user=role_users["warehouse"])
    actions.grade_unit(boot, "sellable", user=role_users["warehouse"])
    assert not Posting.objects.exists()
    actions.grade_unit(beanie, "sellable", user=role_users["warehouse"])

    posting = Posting.objects.get()
    assert posting.associated_ref == f"HR-{HR_ID}"
    assert posting.payload["URN"] == "WEB10241"  # matched whatever the email's case
    assert posting.payload["ProcessReturn"] is True
    assert items(posting) == [
        ("HF-FTW-CHL-BRN-08", 1, "3", Decimal("120.00"), "1011"),
        ("HF-ACC-BNE-RIB-MUS", 1, "3", Decimal("22.00"), "1011"),
    ]
    assert posting.expected_credit == Decimal("142.00")
    assert not ExceptionCase.objects.exists()


def test_unknown_and_deleted_skus_hold_for_the_data_team(workspace):
    hr = workspace.connections["happy-returns"]
    event = opened(
        "hr-1012",
        [
            unit("u1", "HF-TEE-ORG-GRN-M", "24.99", "5.00", barcode="5061234299999"),
            unit("u2", "HF-DNM-SLM-IND-3632", "65.83", "13.17"),
        ],
        order="1012",
        email="marcus.adeyemi@example.net",
    )
    ret = apply(hr, event)

    assert open_kinds(ret) == [("inactive_sku", "data"), ("unknown_sku", "data")]
    inactive = ret.exceptions.get(kind="inactive_sku")
    assert "deleted in Khaos" in inactive.message
    assert inactive.unit.external_id == "u2"

    apply(hr, event)  # the same event again
    ret = apply(hr, in_transit("hr-1012"))  # a new event re-evaluates
    assert ExceptionCase.objects.count() == 2


def test_expired_return_posts_nothing_and_raises_nothing(workspace):
    hr = workspace.connections["happy-returns"]
    ret = apply(
        hr,
        opened("hr-1013", [unit("u1", "HF-TEE-ORG-WHT-M", "24.99", "5.00")], order="1013"),
        expired("hr-1013"),
    )
    assert (ret.state, ret.money_state) == ("expired", "none")
    assert set(ret.units.values_list("state", flat=True)) == {"cancelled"}
    assert not Posting.objects.exists() and not ExceptionCase.objects.exists()


# --- on_refund_unprocessed: Reveni --------------------------------------------------


def test_reveni_posts_unprocessed_at_refund_with_reasons_from_the_reason_table(workspace):
    reveni = workspace.connections["reveni"]
    ret = apply(reveni, reveni_1021())
    assert not Posting.objects.exists()

    ret = apply(reveni, refunded(REVENI, "113.00", "FPS-GB-20250305-77120943"))

    posting = ret.postings.get()
    assert posting.state == PostingState.READY
    assert posting.payload["ProcessReturn"] is False  # logged for staff; no stock moves
    assert posting.payload["URN"] == "WEB10251"
    assert items(posting) == [
        ("HF-DRS-WRP-SAG-10", 1, "2", Decimal("89.00"), "1021"),
        ("HF-KID-HOD-RED-0708", 1, "1", Decimal("24.00"), "1021"),
    ]
    assert posting.expected_credit == Decimal("113.00")
    assert (ret.state, ret.money_state) == ("expected", "posted")


def test_a_later_grade_changes_no_posting(workspace):
    reveni = workspace.connections["reveni"]
    ret = apply(reveni, reveni_1021(), refunded(REVENI, "113.00"))
    posting = ret.postings.get()
    before = (posting.associated_ref, posting.document)

    ret = apply(reveni, graded(REVENI, "rvi_a2", "good"), graded(REVENI, "rvi_a3", "good"))

    posting.refresh_from_db()
    assert (posting.associated_ref, posting.document) == before
    assert ret.postings.count() == 1
    assert set(ret.units.values_list("state", flat=True)) == {"graded"}
    assert ret.state == "graded"


def test_unmapped_reason_holds_until_the_row_is_added(
    workspace, django_capture_on_commit_callbacks
):
    reveni = workspace.connections["reveni"]
    ret = apply_together(
        reveni,
        opened(
            "RVN-1022",
            [
                unit(f"rvi_f0#{i}", "HF-KID-HOD-RED-0910", "24.00", reason="arrived_too_late")
                for i in (1, 2)
            ],
            order="1022",
            email="daniel.okafor@example.org",
        ),
        refunded("RVN-1022", "48.00"),
    )
    assert open_kinds(ret) == [("unmapped_reason", "data")]
    assert ret.postings.get().state == PostingState.HELD

    with django_capture_on_commit_callbacks(execute=True):
        ReasonMapping.objects.create(
            platform="reveni", reason="arrived_too_late", khaos_return_reason_id=1
        )

    posting = ret.postings.get()
    assert posting.state == PostingState.READY
    assert items(posting) == [("HF-KID-HOD-RED-0910", 2, "1", Decimal("24.00"), "1022")]
    assert posting.expected_credit == Decimal("48.00")
    assert not ret.exceptions.filter(status="open").exists()


def test_refund_below_the_expected_credit_is_a_value_mismatch(workspace):
    reveni = workspace.connections["reveni"]
    ret = apply_together(
        reveni,
        opened(
            "RVN-1023",
            [
                unit(
                    "rvi_88",
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
        refunded("RVN-1023", "48.15"),
    )
    case = ret.exceptions.get()
    assert (case.kind, case.owner) == ("value_mismatch", "finance")
    assert case.details["expected"] == "50.15"
    assert case.details["difference"] == "-2.00"
    assert ret.postings.get().state == PostingState.HELD


def test_cancelled_before_refund_posts_nothing(workspace):
    reveni = workspace.connections["reveni"]
    ret = apply(
        reveni,
        opened(
            "RVN-1024",
            [unit("x", "HF-TEE-ORG-WHT-M", "24.99", "5.00", reason="changed_mind")],
            order="1024",
        ),
        cancelled("RVN-1024"),
    )
    assert (ret.state, ret.money_state) == ("cancelled", "none")
    assert not Posting.objects.exists()


# --- exchanges and credit: Swap -------------------------------------------------------


def test_rebound_never_acts_on_the_first_notice(workspace):
    rb = workspace.connections["rebound"]
    units = [
        unit("884512:0#1", "HF-KNT-MCR-OAT-M", "59.00", reason="Too big"),
        unit("884512:1#1", "HF-FTW-CHL-BRN-08", "120.00", reason="Too small"),
    ]
    ret = apply(
        rb,
        opened("884512", units, order="1041", email="catherine.doyle@example.com"),
        received("884512"),
    )
    assert ret.state == "received" and not Posting.objects.exists()

    ret = apply_together(
        rb, graded("884512", "884512:0#1", "restocked"), graded("884512", "884512:1#1", "restocked")
    )
    posting = ret.postings.get()
    assert items(posting) == [
        ("HF-KNT-MCR-OAT-M", 1, "3", Decimal("59.00"), "1041"),
        ("HF-FTW-CHL-BRN-08", 1, "3", Decimal("120.00"), "1041"),
    ]
    assert posting.expected_credit == Decimal("179.00")
    assert posting.payload["ProcessReturn"] is True


def test_unmapped_disposition_holds_the_whole_posting_and_is_never_sellable(workspace):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "884513",
            [
                unit("t#1", "HF-TEE-ORG-WHT-L", "29.99"),
                unit("t#2", "HF-TEE-ORG-WHT-L", "29.99"),
                unit("j#1", "HF-DNM-SLM-IND-3032", "79.00"),
            ],
            order="1042",
            email="imran.hussain@example.com",
        ),
        graded("884513", "t#1", "quarantined"),
        graded("884513", "t#2", "quarantined"),
        graded("884513", "j#1", "repair"),
    )
    assert open_kinds(ret) == [("unmapped_disposition", "warehouse")]
    assert ret.postings.get().state == PostingState.HELD
    jean = ret.units.get(external_id="j#1")
    assert jean.khaos_return_reason is None  # not guessed, never "sellable"
    tee = ret.units.get(external_id="t#1")
    assert (tee.khaos_return_reason_id, tee.site_id) == (6, 2)
    assert value.expected_credit(ret, list(ret.units.all())) == Decimal("138.98")


def test_cancellation_withdraws_a_held_posting_and_closes_its_exceptions(workspace):
    reveni = workspace.connections["reveni"]
    ret = apply_together(
        reveni,
        opened(
            "RVN-1030",
            [unit("r1", "HF-TEE-ORG-WHT-M", "24.99", "5.00", reason="arrived_too_late")],
            order="1030",
        ),
        refunded("RVN-1030", "29.99"),
    )
    assert ret.postings.get().state == PostingState.HELD

    ret = apply(reveni, cancelled("RVN-1030"))

    posting = ret.postings.get()
    assert (posting.state, posting.document) == (PostingState.WITHDRAWN, "")
    assert posting.withdrawn_at is not None
    assert ret.state == "cancelled"
    assert not ret.exceptions.filter(status="open").exists()
    assert ret.timeline.filter(kind="posting_withdrawn").exists()


def test_unknown_customer_holds_until_the_channel_has_a_default_urn(
    workspace, django_capture_on_commit_callbacks
):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "884514",
            [unit("s#1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="1043",
            email="zoe.fairbanks@example.net",
        ),
        graded("884514", "s#1", "restocked"),
    )
    assert open_kinds(ret) == [("unknown_customer", "cx")]

    with django_capture_on_commit_callbacks(execute=True):
        workspace.channel.default_urn = "WEBGUEST"
        workspace.channel.save()

    posting = ret.postings.get()
    assert posting.state == PostingState.READY
    assert posting.payload["URN"] == "WEBGUEST"
    assert items(posting) == [("HF-ACC-SCF-LAM-GRY", 1, "3", Decimal("35.00"), "1043")]


def test_a_renamed_stock_code_is_followed_through_its_stock_id(workspace):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "884515",
            [unit("b#1", "HF-CHELSEA-BRN-9", "120.00")],
            order="1044",
            email="will.ashdown@example.org",
        ),
        graded("884515", "b#1", "restocked"),
    )
    assert items(ret.postings.get()) == [("HF-FTW-CHL-BRN-09", 1, "3", Decimal("120.00"), "1044")]


def test_missing_source_order_is_a_cx_exception(workspace):
    rb = workspace.connections["rebound"]
    ret = apply_together(
        rb,
        opened(
            "884516",
            [unit("b#1", "HF-ACC-SCF-LAM-GRY", "35.00")],
            order="",
            email="catherine.doyle@example.com",
        ),
        graded("884516", "b#1", "restocked"),
    )
    assert open_kinds(ret) == [("missing_source_order", "cx")]
