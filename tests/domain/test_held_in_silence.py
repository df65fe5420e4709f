"""Nothing is held in silence (DESIGN "Exceptions") over random sequences of platform
events, warehouse work, mapping fixes, decisions, stock, time and Khaos; then the
sequences it found, one test each. Each example runs in a savepoint rolled back at its
end; the hub's clock (``timezone.now``) is the machine's, so time only moves forward."""

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings, stateful
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from connectors.khaos import channel as khaos
from returns_hub import events as ev
from returns_hub import models as m
from returns_hub import signals, tasks
from returns_hub.choices import ExceptionKind as K
from returns_hub.choices import ExceptionStatus, PostingKind, UnitState
from returns_hub.choices import PostingState as S
from returns_hub.services import (
    actions,
    deadlines,
    engine,
    ingest,
    invariants,
    postings,
    timeline,
    value,
)
from returns_hub.services.locks import lock_return
from tests import engine_events as e
from tests import factories

pytestmark = pytest.mark.django_db

# No shrinking: a failure prints its (at most 25) steps at once; add Phase.shrink to minimise.
SETTINGS = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
OPEN = ExceptionStatus.OPEN
HOLDING = engine.ENGINE_KINDS - engine.STATEMENTS
START = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PLATFORMS = ("loop", "happy-returns", "reveni", "swap", "rebound")
GRADES = {
    "loop": ("back_to_stock", "recycle"),
    "happy-returns": ("sellable", "damaged"),
    "reveni": ("good", "damaged"),
    "swap": ("restock", "write_off"),
    "rebound": ("restocked", "written_off"),
}
REASON = {"reveni": "size_too_small"}  # the others map "Too small"
ODD_GRADE, ODD_REASON = "mystery-grade", "Smells odd"
# Known (twice: the common case), mapped only on Loop, discontinued in Khaos, unknown.
SKUS = ("HF-TEE-ORG-WHT-M", "HF-TEE-ORG-WHT-M", "RAINJKT-STONE-M", "HF-SHT-OXF-BLU-L", "HF-ZZZ-1")
MAP_TO = ("HF-TEE-ORG-WHT-L", "HF-SHT-OXF-BLU-L", "HF-GONE-9")  # live, discontinued, unknown
# In stock, none available, not on web, unknown.
EXCHANGE_SKUS = ("HF-KNT-MCR-NVY-M", "HF-TEE-ORG-BLK-M", "HF-DRS-WRP-SAG-14", "HF-ZZZ-1")
MAPPED_EMAIL, ODD_EMAIL = "eleanor.whitfield@example.com", "zed.unmapped@example.com"
UNIT = st.tuples(
    st.sampled_from(SKUS),
    st.sampled_from(("refund", "refund", "refund", "refund", "keep_item", "donate")),
    st.sampled_from((True, True, False)),  # reason mapped
)
DECISIONS = {
    "ignore": lambda case, user: actions.ignore_exception(case, user=user, note="by phone"),
    "resolve": lambda case, user: actions.resolve_exception(case, user=user, note="fixed"),
    "retry": lambda case, user: actions.retry_exception(case, user=user),
    "approve": lambda case, user: actions.approve_value(case.return_ref, user=user),
}


def _fixed(model):
    """What saving a row queues once its transaction commits (signals.queue_reevaluation),
    run in place: the example's savepoint never commits. Q_CLUSTER is sync in the tests."""
    tasks.reevaluate_held(signals.CLEARS[model])


class HeldInSilence(RuleBasedStateMachine):
    workspace = person = None  # set by the test

    def __init__(self):
        super().__init__()
        self.clock, self.count = START, 0
        self.platform_of: dict[str, str] = {}
        self.units: dict[str, list[str]] = {}
        self.tokens: dict[str, str | None] = {}
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._now = mock.patch("django.utils.timezone.now", lambda: self.clock)
        self._now.start()

    def teardown(self):
        self._now.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _key(self, what):
        self.count += 1
        return f"hyp:{what}:{self.count}"

    def _slot(self, data) -> str:
        return data.draw(st.sampled_from(sorted(self.platform_of)), label="return")

    def _apply(self, slot, event_type, **fields):
        event = event_type(slot, self._key(event_type.__name__), None, **fields)
        ingest.apply_all(self.workspace.connections[self.platform_of[slot]], [event])

    def _ret(self, slot) -> m.Return:
        return m.Return.objects.get(
            connection=self.workspace.connections[self.platform_of[slot]], external_id=slot
        )

    # --- the platforms ------------------------------------------------------------

    @initialize(data=st.data(), platforms=st.lists(st.sampled_from(PLATFORMS), min_size=2))
    def opened(self, data, platforms):
        for slot, platform in zip("AB", platforms, strict=False):
            self.platform_of[slot], self.units[slot] = platform, []
            self.reported(data, slot, swaps=1, new=1)

    @rule(data=st.data(), slot=st.sampled_from("AB"), swaps=st.integers(0, 1))
    def reported(self, data, slot, swaps, new=0):
        """Opened, or reported again with more units or exchanges."""
        units = []
        for sku, outcome, mapped in data.draw(st.lists(UNIT, min_size=new, max_size=new + 1)):
            reason = REASON.get(self.platform_of[slot], "Too small") if mapped else ODD_REASON
            uid = self._key("unit")
            units.append(e.unit(uid, sku, "24.99", "5.00", reason=reason, outcome=outcome))
            self.units[slot].append(uid)
        wanted = data.draw(st.lists(st.sampled_from(EXCHANGE_SKUS), max_size=swaps))
        self._apply(
            slot,
            ev.ReturnOpened,
            order_ref=data.draw(st.sampled_from(("1001", "1001", "")), label="order"),
            customer_email=data.draw(st.sampled_from((MAPPED_EMAIL, MAPPED_EMAIL, ODD_EMAIL, ""))),
            address=e.opened("x", []).address,
            units=tuple(units),
            exchanges=tuple(e.exchange(self._key("x"), sku, "29.99") for sku in wanted),
        )

    @rule(data=st.data(), arrived=st.booleans())
    def moved(self, data, arrived):
        slot = self._slot(data)
        ids = tuple(data.draw(st.lists(st.sampled_from(self.units[slot]), max_size=2)))
        self._apply(slot, ev.UnitsReceived if arrived else ev.UnitsInTransit, unit_ids=ids)

    @rule(data=st.data(), mapped=st.sampled_from((True, True, False)))
    def platform_grade(self, data, mapped):
        slot = self._slot(data)
        grade = data.draw(st.sampled_from(GRADES[self.platform_of[slot]])) if mapped else None
        unit_id = data.draw(st.sampled_from(self.units[slot]), label="unit")
        self._apply(slot, ev.UnitGraded, unit_id=unit_id, disposition=grade or ODD_GRADE)

    @rule(data=st.data(), exact=st.sampled_from((True, True, False)), credit=st.booleans())
    def settled(self, data, exact, credit):
        slot = self._slot(data)
        ret = self._ret(slot)
        live = list(ret.units.exclude(state=UnitState.CANCELLED))
        owed = value.expected_credit(ret, live) - value.settlement(ret)  # what settles it exactly
        amount = owed if exact and owed > 0 else Decimal("7.50")
        kind = ev.CreditIssued if credit else ev.RefundIssued
        self._apply(slot, kind, amount=amount, reference=self._key("money"))

    @rule(data=st.data(), expired=st.booleans())
    def ended(self, data, expired):
        self._apply(self._slot(data), ev.ReturnExpired if expired else ev.ReturnCancelled)

    # --- people -------------------------------------------------------------------

    @rule(data=st.data(), grade=st.sampled_from(("first", None, ODD_GRADE)))
    def warehouse(self, data, grade):
        slot = self._slot(data)
        unit = self._ret(slot).units.get(external_id=data.draw(st.sampled_from(self.units[slot])))
        grade = GRADES[self.platform_of[slot]][0] if grade == "first" else grade
        with suppress(actions.ActionError):  # a cancelled unit, a late grade: refused, allowed
            if grade is None:
                actions.receive_unit(unit, user=self.person)
            else:
                actions.grade_unit(unit, grade, user=self.person)

    @precondition(lambda self: m.ExceptionCase.objects.filter(status=OPEN).exists())
    @rule(data=st.data(), how=st.sampled_from(("ignore", "resolve", "retry", "approve")))
    def decide(self, data, how):
        case = data.draw(st.sampled_from(list(m.ExceptionCase.objects.filter(status=OPEN))))
        with suppress(actions.ActionError):  # the cause is still there: refused, and allowed
            DECISIONS[how](case, self.person)

    @rule(what=st.sampled_from(("sku", "disposition", "reason", "customer")), data=st.data())
    def fix_mapping(self, what, data):
        platform = data.draw(st.sampled_from(PLATFORMS), label="platform")
        if what == "sku":
            sku, code = data.draw(st.sampled_from(SKUS[2:])), data.draw(st.sampled_from(MAP_TO))
            m.SkuMapping.objects.update_or_create(
                platform=platform, platform_sku=sku, defaults={"stock_code": code}
            )
            _fixed(m.SkuMapping)
        elif what == "disposition":
            code = data.draw(st.sampled_from((ODD_GRADE, "keep_item", "donate")))
            row = {"stock_action": "write_off", "khaos_return_reason_id": 4, "site_id": 1}
            m.DispositionMapping.objects.get_or_create(
                platform=platform, disposition=code, defaults=row
            )
            _fixed(m.DispositionMapping)
        elif what == "reason":
            m.ReasonMapping.objects.get_or_create(
                platform=platform, reason=ODD_REASON, defaults={"khaos_return_reason_id": 1}
            )
            _fixed(m.ReasonMapping)
        else:
            m.CustomerMapping.objects.get_or_create(email=ODD_EMAIL, defaults={"urn": "WEB99999"})
            _fixed(m.CustomerMapping)

    @rule(code=st.sampled_from(EXCHANGE_SKUS[:2]), available=st.sampled_from((5, 0)))
    def stock(self, code, available):
        product = m.KhaosProduct.objects.get(stock_code=code)
        m.StockLevel.objects.update_or_create(
            product=product, site_id=1, defaults={"available": Decimal(available)}
        )
        _fixed(m.StockLevel)

    # --- time and Khaos -----------------------------------------------------------

    @rule(hours=st.sampled_from((25, 24 * 8, 24 * 22, 1)))
    def time_passes(self, hours):
        """The scheduled tasks: deadlines moved on, overdue postings flagged."""
        self.clock += timedelta(hours=hours)
        tasks.reevaluate(deadlines.overdue(self.clock))
        postings.flag_unconfirmed(now=self.clock)

    @rule(data=st.data())
    def scheduled_evaluation(self, data):
        with transaction.atomic():
            engine.evaluate(lock_return(self._ret(self._slot(data))), now=self.clock)

    @rule(kind=st.sampled_from(PostingKind.values), resume=st.booleans())
    def khaos_downloads(self, kind, resume):
        token = self.tokens.get(kind) if resume else None
        page = khaos.serve(self.workspace.channel, kind, token=token, specific=None)
        self.tokens[kind] = page.token

    @precondition(lambda self: m.Posting.objects.filter(state=S.DOWNLOADED).exists())
    @rule(data=st.data(), cancelled=st.booleans())
    def khaos_confirms(self, data, cancelled):
        posting = data.draw(st.sampled_from(list(m.Posting.objects.filter(state=S.DOWNLOADED))))
        if posting.kind == PostingKind.EXCHANGE_ORDER:
            status = "Cancelled" if cancelled else "Despatched"
            status = {"AssociatedRef": posting.associated_ref, "Status": status, "OrderCode": "S1"}
            khaos.apply_order_statuses(self.workspace.channel, {"Statuses": [status]})
            return
        with transaction.atomic():
            lock_return(posting.return_ref_id)
            postings.confirm(posting, ref=f"CN{posting.pk}", by=timeline.KHAOS)

    # --- nothing is held in silence -----------------------------------------------

    @invariant()
    def held_postings_say_why(self):
        """(a) every held posting has an open case that holds its return's document."""
        assert not (found := invariants.held_postings_say_why()), found

    @invariant()
    def open_cases_are_true(self):
        """(b) every open engine case names a cause the engine still finds."""
        assert not (found := invariants.open_cases_are_true(self.clock)), found

    @invariant()
    def never_withdrawn_and_served(self):
        """(c) a withdrawn posting was never served; one customer return per return."""
        assert not (found := invariants.never_withdrawn_and_served()), found

    @invariant()
    def ignored_never_reopens(self):
        """(d) a cause a person ignored is never open again."""
        assert not (found := invariants.ignored_never_reopens()), found

    @invariant()
    def posting_cases_name_their_posting(self):
        """(e) posting_unconfirmed: still outstanding; exchange_cancelled: still cancelled."""
        assert not (found := invariants.posting_cases_name_their_posting()), found


def test_nothing_is_held_in_silence(workspace):
    HeldInSilence.workspace = workspace
    HeldInSilence.person = factories.UserFactory(username="hypothesis-person")
    stateful.run_state_machine_as_test(HeldInSilence, settings=SETTINGS)


# --- sequences the machine found, kept as tests of their own ------------------------------


def _unit(uid, sku="HF-TEE-ORG-WHT-M", reason=""):
    return e.unit(uid, sku, "24.99", "5.00", reason=reason)


def test_withdrawing_a_ready_posting_closes_its_unconfirmed_case(workspace):
    """(e) Reveni posts at refund; Khaos never downloads it; the return is cancelled."""
    reveni = workspace.connections["reveni"]
    opened = e.opened("U1", [_unit(1, reason="size_too_small")], email=MAPPED_EMAIL)
    ret = e.apply(reveni, opened, e.refunded("U1", "29.99"))
    posting = ret.postings.get(state=S.READY)
    postings.flag_unconfirmed(now=timezone.now() + timedelta(days=8))
    assert ret.exceptions.filter(kind=K.POSTING_UNCONFIRMED, status=OPEN).exists()

    e.apply(reveni, e.cancelled("U1"))

    posting.refresh_from_db()
    assert posting.state == S.WITHDRAWN
    still = ret.exceptions.filter(kind=K.POSTING_UNCONFIRMED, status=OPEN)
    assert not still.exists(), "posting_unconfirmed stays open on a withdrawn posting"


def test_an_ignored_value_mismatch_never_holds_a_posting_in_silence(workspace):
    """(a) Ignored (approved) at one settlement; the settlement then changes."""
    hr = workspace.connections["happy-returns"]
    opened = e.opened("U2", [_unit(1, sku="HF-ZZZ-1")], email=MAPPED_EMAIL)
    ret = e.apply(hr, opened, e.graded("U2", 1, "sellable"), e.refunded("U2", "10.00"))
    mismatch = ret.exceptions.get(kind=K.VALUE_MISMATCH)
    actions.ignore_exception(mismatch, user=factories.UserFactory(), note="agreed by phone")
    e.apply(hr, e.credited("U2", "5.00", "SC1"))
    m.SkuMapping.objects.create(
        platform="happy-returns", platform_sku="HF-ZZZ-1", stock_code=MAP_TO[0]
    )
    _fixed(m.SkuMapping)

    posting = ret.postings.get()
    cases = ret.exceptions.filter(status=OPEN, kind__in=HOLDING)
    assert posting.state != S.HELD or cases.exists(), (
        f"{posting} held in silence: {list(ret.exceptions.values_list('cause_key', 'status'))}"
    )


def test_a_return_reported_again_with_a_new_unit_is_not_posted_half_graded(workspace):
    """Held (unknown customer) once graded; the platform then reports a second unit."""
    hr = workspace.connections["happy-returns"]
    ret = e.apply(hr, e.opened("U3", [_unit(1)], email=ODD_EMAIL), e.graded("U3", 1, "sellable"))
    assert ret.postings.get().state == S.HELD

    e.apply(hr, e.opened("U3", [_unit(1), _unit(2)], email=ODD_EMAIL))

    # Not due any more: the held document is put back (it was never served), not made.
    assert not ret.postings.exists()
    assert ret.timeline.filter(kind="posting_unmade").exists()

    ret = e.apply(hr, e.graded("U3", 2, "sellable"))
    posting = ret.postings.get()
    assert posting.state == S.HELD
    assert ret.exceptions.filter(status=OPEN, kind=K.UNKNOWN_CUSTOMER).exists()


def test_a_stock_change_leaves_no_stale_case_on_a_waiting_exchange(workspace):
    """(b) An exchange held by an unknown customer; its stock then runs out."""
    rebound = workspace.connections["rebound"]
    swap = e.exchange(1, "HF-KNT-MCR-NVY-M", "29.99")
    ret = e.apply(rebound, e.opened("U4", [_unit(1)], email="", exchanges=[swap]))
    assert ret.exceptions.filter(kind=K.UNKNOWN_CUSTOMER, status=OPEN).exists()

    m.StockLevel.objects.filter(product__stock_code="HF-KNT-MCR-NVY-M").update(available=0)
    _fixed(m.StockLevel)

    live = list(ret.units.all())
    found = engine.diagnose(ret, live, posting=postings.return_posting(ret))
    true = {p.cause_key(ret) for p in found.problems}
    cases = ret.exceptions.filter(status=OPEN, kind__in=engine.ENGINE_KINDS)
    assert set(cases.values_list("cause_key", flat=True)) <= true
