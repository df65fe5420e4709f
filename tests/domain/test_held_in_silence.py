"""Nothing is held in silence (DESIGN "Exceptions"), over random sequences of platform
events, warehouse work, mapping fixes, people's decisions, stock, time and Khaos.

Each example runs in its own savepoint, rolled back at its end, on the fixtures'
workspace. The hub's clock (``timezone.now``) is the machine's clock, so time only
moves forward, as it does in production, and every evaluation sees the same time.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from connectors.khaos import channel as khaos
from returns_hub import events as ev
from returns_hub import signals, tasks
from returns_hub.choices import ExceptionKind as K
from returns_hub.choices import ExceptionStatus, PostingKind, UnitState
from returns_hub.choices import PostingState as S
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    KhaosProduct,
    Posting,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
    StockLevel,
)
from returns_hub.services import actions, deadlines, engine, ingest, postings, timeline
from returns_hub.services.locks import lock_return
from tests import factories

pytestmark = pytest.mark.django_db

OPEN = ExceptionStatus.OPEN
HOLDING = engine.ENGINE_KINDS - engine.STATEMENTS
START = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PLATFORMS = ("loop", "happy-returns", "reveni", "swap", "rebound")
SLOTS = ("A", "B", "C")
GRADES = {
    "loop": ("back_to_stock", "recycle"),
    "happy-returns": ("sellable", "damaged"),
    "reveni": ("good", "damaged"),
    "swap": ("restock", "write_off"),
    "rebound": ("restocked", "written_off"),
}
REASON = {"reveni": "size_too_small", "rebound": "Too small"}  # others: "Too small"
UNMAPPED_GRADE, UNMAPPED_REASON = "mystery-grade", "Smells odd"
# Known, mapped only on Loop, discontinued in Khaos, unknown.
SKUS = ("HF-TEE-ORG-WHT-M", "RAINJKT-STONE-M", "HF-SHT-OXF-BLU-L", "HF-MYSTERY-1")
FIXABLE_SKUS = SKUS[1:]
MAP_TO = ("HF-TEE-ORG-WHT-L", "HF-SHT-OXF-BLU-L", "HF-GONE-9")  # live, discontinued, unknown
# In stock, none available, not on web, unknown.
EXCHANGE_SKUS = ("HF-KNT-MCR-NVY-M", "HF-TEE-ORG-BLK-M", "HF-DRS-WRP-SAG-14", "HF-MYSTERY-1")
EMAILS = ("eleanor.whitfield@example.com", "zed.unmapped@example.com", "")
ADDRESS = {"line1": "1 High Street", "town": "York", "postcode": "YO1 1AA", "country_code": "GB"}


class HeldInSilence(RuleBasedStateMachine):
    workspace = None  # set by the test
    person = None

    def __init__(self):
        super().__init__()
        self.clock = START
        self.platform_of: dict[str, str] = {}
        self.units: dict[str, list[str]] = {}
        self.count = 0
        self.tokens: dict[str, str | None] = {}
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._now = mock.patch("django.utils.timezone.now", lambda: self.clock)
        self._now.start()

    def teardown(self):
        self._now.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------

    def _key(self, slot, what):
        self.count += 1
        return f"hyp:{slot}:{what}:{self.count}"

    def _apply(self, slot, event):
        ingest.apply_all(self.workspace.connections[self.platform_of[slot]], [event])

    def _ret(self, slot) -> Return:
        conn = self.workspace.connections[self.platform_of[slot]]
        return Return.objects.get(connection=conn, external_id=slot)

    def _unit(self, data) -> ReturnUnit:
        slot = data.draw(st.sampled_from(sorted(self.platform_of)), label="return")
        uid = data.draw(st.sampled_from(self.units[slot]), label="unit")
        return self._ret(slot).units.get(external_id=uid)

    def _evaluate(self, return_id):
        with transaction.atomic():
            engine.evaluate(lock_return(return_id), now=self.clock)

    def _fixed(self, model):
        """What the signals queue on commit, run here: the savepoint never commits."""
        tasks.reevaluate_held(signals.CLEARS[model])

    def _new_units(self, data, slot, low):
        picked = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(SKUS),
                    st.sampled_from(("refund", "refund", "keep_item", "donate")),
                    st.booleans(),
                ),
                min_size=low,
                max_size=2,
            ),
            label="units",
        )
        platform = self.platform_of[slot]
        made = []
        for sku, outcome, mapped in picked:
            self.count += 1
            reason = REASON.get(platform, "Too small") if mapped else UNMAPPED_REASON
            made.append(
                ev.UnitData(
                    str(self.count),
                    sku,
                    price=Decimal("24.99"),
                    tax=Decimal("5.00"),
                    reason=reason,
                    outcome=outcome,
                )
            )
        self.units[slot] += [u.external_id for u in made]
        return tuple(made)

    # --- the platforms ------------------------------------------------------------

    @rule(data=st.data())
    def open_return(self, data):
        slot = data.draw(st.sampled_from(SLOTS), label="return")
        first = slot not in self.platform_of
        if first:
            self.platform_of[slot] = data.draw(st.sampled_from(PLATFORMS), label="platform")
            self.units[slot] = []
        units = self._new_units(data, slot, 1 if first else 0)
        wanted = data.draw(st.lists(st.sampled_from(EXCHANGE_SKUS), max_size=1), label="swaps")
        exchanges = tuple(
            ev.ExchangeData(self._key(slot, "x"), sku, value=Decimal("29.99")) for sku in wanted
        )
        self._apply(
            slot,
            ev.ReturnOpened(
                slot,
                self._key(slot, "opened"),
                None,
                order_ref=data.draw(st.sampled_from(("1001", "1001", "")), label="order"),
                customer_email=data.draw(st.sampled_from(EMAILS), label="email"),
                customer_name="Test Customer",
                address=ADDRESS,
                units=units,
                exchanges=exchanges,
            ),
        )

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data(), arrived=st.booleans())
    def moved(self, data, arrived):
        slot = data.draw(st.sampled_from(sorted(self.platform_of)), label="return")
        ids = tuple(data.draw(st.lists(st.sampled_from(self.units[slot]), max_size=2)))
        kind = ev.UnitsReceived if arrived else ev.UnitsInTransit
        self._apply(slot, kind(slot, self._key(slot, kind.__name__), None, unit_ids=ids))

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data(), mapped=st.booleans())
    def platform_grade(self, data, mapped):
        unit = self._unit(data)
        slot = unit.return_ref.external_id
        grade = data.draw(st.sampled_from(GRADES[self.platform_of[slot]])) if mapped else None
        event = ev.UnitGraded(
            slot,
            self._key(slot, "graded"),
            None,
            unit_id=unit.external_id,
            disposition=grade or UNMAPPED_GRADE,
        )
        self._apply(slot, event)

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data(), exact=st.booleans(), credit=st.booleans())
    def settled(self, data, exact, credit):
        slot = data.draw(st.sampled_from(sorted(self.platform_of)), label="return")
        live = self._ret(slot).units.exclude(state=UnitState.CANCELLED)
        amount = sum((u.expected_credit for u in live), Decimal(0)) if exact else Decimal("7.50")
        key = self._key(slot, "money")
        kind = ev.CreditIssued if credit else ev.RefundIssued
        self._apply(slot, kind(slot, key, None, amount=amount, reference=key))

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data(), expired=st.booleans())
    def ended(self, data, expired):
        slot = data.draw(st.sampled_from(sorted(self.platform_of)), label="return")
        kind = ev.ReturnExpired if expired else ev.ReturnCancelled
        self._apply(slot, kind(slot, self._key(slot, kind.__name__), None))

    # --- people -------------------------------------------------------------------

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data(), grade=st.sampled_from((None, UNMAPPED_GRADE, "first")))
    def warehouse(self, data, grade):
        unit = self._unit(data)
        if grade == "first":
            grade = GRADES[unit.return_ref.connection.platform][0]
        try:
            if grade is None:
                actions.receive_unit(unit, user=self.person)
            else:
                actions.grade_unit(unit, grade, user=self.person)
        except actions.ActionError:
            pass  # a cancelled unit, a grade after posting: refused, and allowed

    @rule(data=st.data(), how=st.sampled_from(("ignore", "resolve", "retry", "approve")))
    def decide(self, data, how):
        cases = list(ExceptionCase.objects.filter(status=OPEN).order_by("pk"))
        if not cases:
            return
        case = data.draw(st.sampled_from(cases), label="case")
        try:
            if how == "ignore":
                actions.ignore_exception(case, user=self.person, note="handled by phone")
            elif how == "resolve":
                actions.resolve_exception(case, user=self.person, note="fixed")
            elif how == "retry":
                actions.retry_exception(case, user=self.person)
            else:
                actions.approve_value(case.return_ref, user=self.person, note="ok")
        except actions.ActionError:
            pass  # the cause is still there, or nothing to approve: refused, and allowed

    @rule(what=st.sampled_from(("sku", "disposition", "reason", "customer")), data=st.data())
    def fix_mapping(self, what, data):
        platform = data.draw(st.sampled_from(PLATFORMS), label="platform")
        if what == "sku":
            sku = data.draw(st.sampled_from(FIXABLE_SKUS), label="sku")
            code = data.draw(st.sampled_from(MAP_TO), label="code")
            SkuMapping.objects.update_or_create(
                platform=platform, platform_sku=sku, defaults={"stock_code": code}
            )
            self._fixed(SkuMapping)
        elif what == "disposition":
            code = data.draw(st.sampled_from((UNMAPPED_GRADE, "keep_item", "donate")))
            DispositionMapping.objects.get_or_create(
                platform=platform,
                disposition=code,
                defaults={"stock_action": "write_off", "khaos_return_reason_id": 4, "site_id": 1},
            )
            self._fixed(DispositionMapping)
        elif what == "reason":
            ReasonMapping.objects.get_or_create(
                platform=platform, reason=UNMAPPED_REASON, defaults={"khaos_return_reason_id": 1}
            )
            self._fixed(ReasonMapping)
        else:
            CustomerMapping.objects.get_or_create(email=EMAILS[1], defaults={"urn": "WEB99999"})
            self._fixed(CustomerMapping)

    @rule(code=st.sampled_from(EXCHANGE_SKUS[:2]), available=st.sampled_from((0, 5)))
    def stock(self, code, available):
        StockLevel.objects.update_or_create(
            product=KhaosProduct.objects.get(stock_code=code),
            site_id=1,
            defaults={"available": Decimal(available)},
        )
        self._fixed(StockLevel)

    # --- time and Khaos -----------------------------------------------------------

    @rule(hours=st.sampled_from((1, 25, 24 * 8, 24 * 22)))
    def time_passes(self, hours):
        """The scheduled tasks: deadlines moved on, overdue postings flagged."""
        self.clock += timedelta(hours=hours)
        for return_id in deadlines.overdue(self.clock):
            self._evaluate(return_id)
        postings.flag_unconfirmed(now=self.clock)

    @precondition(lambda self: self.platform_of)
    @rule(data=st.data())
    def scheduled_evaluation(self, data):
        self._evaluate(self._ret(data.draw(st.sampled_from(sorted(self.platform_of)))).pk)

    @rule(kind=st.sampled_from(PostingKind.values), resume=st.booleans())
    def khaos_downloads(self, kind, resume):
        token = self.tokens.get(kind) if resume else None
        page = khaos.serve(self.workspace.channel, kind, token=token, specific=None)
        self.tokens[kind] = page.token

    @rule(data=st.data(), cancelled=st.booleans())
    def khaos_confirms(self, data, cancelled):
        served = list(Posting.objects.filter(state=S.DOWNLOADED).order_by("pk"))
        if not served:
            return
        posting = data.draw(st.sampled_from(served), label="posting")
        if posting.kind == PostingKind.EXCHANGE_ORDER:
            status = {
                "AssociatedRef": posting.associated_ref,
                "OrderCode": f"SO{posting.pk}",
                "Status": "Cancelled" if cancelled else "Despatched",
            }
            khaos.apply_order_statuses(self.workspace.channel, {"Statuses": [status]})
            return
        with transaction.atomic():
            lock_return(posting.return_ref_id)
            postings.confirm(posting, ref=f"CN{posting.pk}", by=timeline.KHAOS)

    # --- nothing is held in silence -----------------------------------------------

    @invariant()
    def held_postings_say_why(self):
        """(a) every held posting has an open case that holds its return's document."""
        for posting in Posting.objects.filter(state=S.HELD):
            assert posting.kind == PostingKind.RETURN, f"{posting} held past its transaction"
            cases = ExceptionCase.objects.filter(
                return_ref=posting.return_ref_id, status=OPEN, kind__in=HOLDING
            )
            holding = [c for c in cases if not (c.details or {}).get("exchange_id")]
            assert holding, f"{posting} is held and no open exception says why: " + str(
                list(
                    ExceptionCase.objects.filter(return_ref=posting.return_ref_id).values_list(
                        "kind", "status", "cause_key"
                    )
                )
            )

    @invariant()
    def open_cases_are_true(self):
        """(b) every open engine case names a cause the engine still finds."""
        cases = ExceptionCase.objects.filter(status=OPEN, kind__in=engine.ENGINE_KINDS)
        for return_id in sorted(set(cases.values_list("return_ref_id", flat=True))):
            ret = Return.objects.select_related("connection__khaos_channel").get(pk=return_id)
            true = set()
            if ret.state not in engine.FINISHED:
                units = ret.units.select_related("product", "khaos_return_reason").order_by("id")
                live = [u for u in units if u.state != UnitState.CANCELLED]
                found = engine.diagnose(
                    ret, live, posting=postings.return_posting(ret), now=self.clock
                )
                true = {p.cause_key(ret) for p in found.problems}
            stale = cases.filter(return_ref=ret).exclude(cause_key__in=true)
            assert not stale.exists(), (
                f"open cases whose cause has gone on {ret} ({ret.state}): "
                f"{list(stale.values_list('cause_key', flat=True))}; the engine finds {true}"
            )

    @invariant()
    def never_withdrawn_and_served(self):
        """(c) a withdrawn posting was never served; one customer return per return."""
        both = Posting.objects.filter(state=S.WITHDRAWN, first_downloaded_at__isnull=False)
        assert not both.exists(), f"withdrawn after Khaos downloaded them: {list(both)}"
        refs = list(Posting.objects.filter(kind=PostingKind.RETURN).values_list("return_ref"))
        assert len(refs) == len(set(refs)), f"two customer-return postings: {refs}"

    @invariant()
    def ignored_never_reopens(self):
        """(d) a cause a person ignored is never open again."""
        ignored = ExceptionCase.objects.filter(status=ExceptionStatus.IGNORED)
        again = ExceptionCase.objects.filter(status=OPEN, cause_key__in=ignored.values("cause_key"))
        assert not again.exists(), f"ignored causes open again: {list(again.values('cause_key'))}"

    @invariant()
    def posting_cases_name_their_posting(self):
        """(e) posting_unconfirmed: still outstanding; exchange_cancelled: still cancelled."""
        for case in ExceptionCase.objects.filter(
            status=OPEN, kind__in=[K.POSTING_UNCONFIRMED, K.EXCHANGE_CANCELLED]
        ).select_related("posting"):
            want = postings.OUTSTANDING if case.kind == K.POSTING_UNCONFIRMED else (S.CANCELLED,)
            assert case.posting is not None and case.posting.state in want, (
                f"open {case.kind} {case.cause_key} names posting {case.posting} "
                f"({case.posting and case.posting.state})"
            )


def test_nothing_is_held_in_silence(workspace):
    HeldInSilence.workspace = workspace
    HeldInSilence.person = factories.UserFactory(username="hypothesis-person")
    run_state_machine_as_test(
        HeldInSilence,
        settings=settings(
            max_examples=80,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
