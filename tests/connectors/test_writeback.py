"""Grades given on the hub told back to the platform, through the platform outbox.

Queueing (domain): one row once every returned unit has a person's grade, none for a
grade the platform reported, the same grades never twice. Sending (connectors): over
real HTTP to the Loop and Happy Returns simulators, whose follow-up webhooks bring the
refund back to a live hub; retries with backoff, 429 waits, permanent failures opening
``platform_unreachable`` (closed when the row is later sent), and workers racing on
real PostgreSQL threads sending a row once.
"""

import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from connectors import simulators
from connectors.base import writeback as sender
from connectors.base.client import PermanentFailure
from connectors.base.simulator import STEPS, Knobs
from connectors.happy_returns.writeback import HappyReturnsWriter
from connectors.loop.writeback import LoopWriter
from returns_hub.models import ExceptionCase, Return, TimelineEntry, WriteBack
from returns_hub.services import actions
from returns_hub.services import writeback as outbox
from tests import engine_events as e
from tests.khaos.test_races import race

EMAIL = "eleanor.whitfield@example.com"
S = WriteBack.State


def _loop_return(workspace, rid="LW-1", *units):
    units = units or (
        e.unit(1, "HF-TEE-ORG-WHT-M", "24.99", "5.00"),
        e.unit(2, "HF-TEE-ORG-WHT-M", "24.99", "5.00"),
    )
    return e.apply(
        workspace.connections["loop"], e.opened(rid, list(units), email=EMAIL), e.received(rid)
    )


def _grade(ret, uid, disposition, user, condition=""):
    unit = ret.units.get(external_id=str(uid))
    return actions.grade_unit(unit, disposition, user=user, condition=condition)


# --- queueing: when a platform is told ---------------------------------------------------


@pytest.mark.django_db
def test_grading_the_last_unit_queues_exactly_one_process_call(
    workspace, role_users, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(outbox, "enqueue", enqueued.append)
    warehouse = role_users["warehouse"]
    ret = _loop_return(workspace)

    _grade(ret, 1, "back_to_stock", warehouse, "grade_a")
    assert not WriteBack.objects.exists()  # a unit still to grade: Loop is told all at once

    with django_capture_on_commit_callbacks(execute=True):
        _grade(ret, 2, "resale_hold", warehouse)
    row = WriteBack.objects.get()
    assert (row.kind, row.state, row.attempts, row.queued_by) == (
        "process",
        "pending",
        0,
        warehouse,
    )
    assert row.connection == workspace.connections["loop"] and row.return_ref == ret
    grades = {u["external_id"]: u for u in row.payload["units"]}
    assert grades["1"]["disposition"] == "back_to_stock" and grades["1"]["condition"] == "grade_a"
    assert grades["2"]["stock_action"] == "quarantine"  # from the disposition table
    assert grades["2"]["graded_by"] == "warehouse-user"
    assert enqueued == [row.pk]  # its send is queued once the grade is committed
    assert TimelineEntry.objects.filter(return_ref=ret, kind="write_back_queued").count() == 1

    _grade(ret, 2, "resale_hold", warehouse)  # the same grade again: nothing new
    assert WriteBack.objects.count() == 1


@pytest.mark.django_db
def test_a_grade_the_platform_reported_is_never_told_back(workspace, role_users):
    loop = workspace.connections["loop"]
    ret = _loop_return(workspace, "LW-2")
    e.apply(loop, e.graded("LW-2", 1, "back_to_stock"), e.graded("LW-2", 2, "back_to_stock"))
    assert ret.units.filter(state="graded").count() == 2
    assert not WriteBack.objects.exists()

    # A person grades one unit and the platform the last: the platform graded it, it knows.
    mixed = _loop_return(workspace, "LW-3")
    _grade(mixed, 1, "back_to_stock", role_users["warehouse"])
    e.apply(loop, e.graded("LW-3", 2, "back_to_stock"))
    assert not WriteBack.objects.exists()


@pytest.mark.django_db
def test_a_problem_unit_flags_the_loop_return_and_happy_returns_approves(workspace, role_users):
    warehouse = role_users["warehouse"]
    ret = _loop_return(workspace, "LW-4")
    _grade(ret, 1, "back_to_stock", warehouse)
    _grade(ret, 2, "missing", warehouse)  # missing on arrival: a person at Loop decides
    assert WriteBack.objects.get(return_ref=ret).kind == "flag"

    hr = e.apply(workspace.connections["happy-returns"], e.hr_1011())
    for unit, grade in zip(hr.units.order_by("id"), ["sellable", "wrong-item"], strict=True):
        actions.grade_unit(unit, grade, user=warehouse)
    row = WriteBack.objects.get(return_ref=hr)
    assert row.kind == "approve"
    assert [u["disposition"] for u in row.payload["units"]] == ["sellable", "wrong-item"]

    # Swap does not write back: its grades stay on the hub.
    swap = e.apply(
        workspace.connections["swap"], e.opened("SW-1", [e.unit(1, "HF-TEE-ORG-WHT-M", "24.99")])
    )
    actions.grade_unit(swap.units.get(), "restock", user=warehouse)
    assert not WriteBack.objects.filter(return_ref=swap).exists()


@pytest.mark.django_db
def test_kept_items_count_as_final_and_a_closed_loop_return_is_not_told(workspace, role_users):
    warehouse = role_users["warehouse"]
    ret = _loop_return(
        workspace,
        "LW-5",
        e.unit(1, "HF-TEE-ORG-WHT-M", "24.99", "5.00"),
        e.unit(2, "HF-TEE-ORG-WHT-M", "24.99", "5.00", outcome="keep_item"),
    )
    assert ret.units.get(external_id="2").state == "not_returned"
    _grade(ret, 1, "back_to_stock", warehouse)
    row = WriteBack.objects.get(return_ref=ret)
    assert [u["state"] for u in row.payload["units"]] == ["graded", "not_returned"]
    body = LoopWriter().call(row, row.connection).body
    named = [line["line_item_id"] for line in body["line_items"]]
    assert named == [1]  # the kept item is not named

    closed = _loop_return(workspace, "LW-6")
    Return.objects.filter(pk=closed.pk).update(platform_state="closed")  # Loop processed it
    _grade(closed, 1, "back_to_stock", warehouse)
    _grade(closed, 2, "back_to_stock", warehouse)
    assert not WriteBack.objects.filter(return_ref=closed).exists()


@pytest.mark.django_db
def test_new_grades_replace_an_untried_row_but_never_follow_a_tried_one(workspace, role_users):
    warehouse = role_users["warehouse"]
    ret = _loop_return(workspace, "LW-7")
    _grade(ret, 1, "back_to_stock", warehouse)
    _grade(ret, 2, "back_to_stock", warehouse)
    first = WriteBack.objects.get()

    _grade(ret, 2, "recycle", warehouse)  # changed before it was sent: the new one goes
    first.refresh_from_db()
    second = WriteBack.objects.exclude(pk=first.pk).get()
    assert (first.state, second.state) == ("cancelled", "pending")

    _grade(ret, 2, "back_to_stock", warehouse)  # back to the first grades: that row again
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("pending", "cancelled")
    assert WriteBack.objects.count() == 2  # (return, kind, digest) is never queued twice

    WriteBack.objects.filter(pk=first.pk).update(state="failed", attempts=1)  # tried once
    _grade(ret, 2, "recycle", warehouse)
    assert WriteBack.objects.filter(state="pending").count() == 0
    note = TimelineEntry.objects.get(return_ref=ret, kind="write_back_not_sent")
    assert "already told" in note.message


# --- the writers: the platforms' bodies ---------------------------------------------------


def _row(connection, kind, *units, external_id="5001"):
    payload = {
        "return": {"external_id": external_id, "associated_ref": f"X-{external_id}"},
        "units": [
            {
                "external_id": "",
                "state": "graded",
                "disposition": "",
                "condition": "",
                "stock_action": "",
                "graded_at": "",
                "graded_by": "",
                **u,
            }
            for u in units
        ],
    }
    return WriteBack(connection=connection, kind=kind, payload=payload)


@pytest.mark.django_db
def test_the_loop_writer_maps_grades_to_loops_vocabulary(workspace):
    loop = workspace.connections["loop"]
    loop.options = {
        "write_back": {
            "dispositions": {"b-grade": "resale_hold"},
            "return_processor": "warehouse@example.com",
        }
    }
    row = _row(
        loop,
        "process",
        {
            "external_id": "9100101",
            "disposition": "back_to_stock",
            "condition": "grade_b",
            "graded_at": "2025-03-06T11:40:05+00:00",
            "graded_by": "ann",
        },
        {"external_id": "L-2", "disposition": "b-grade"},
        {"external_id": "3", "disposition": "house-code", "stock_action": "write_off"},
    )
    call = LoopWriter().call(row, loop)
    assert (call.method, call.path) == ("POST", "/warehouse/return/5001/process")
    first, second, third = call.body["line_items"]
    assert first == {
        "line_item_id": 9100101,
        "disposition_outcome": "back_to_stock",
        "condition_category": "grade_b",
        "return_processor": "warehouse@example.com",
        "inspected_at": "2025-03-06 11:40:05",  # Loop's format, in the connection's zone (GMT)
        "note": "Graded 'back_to_stock' on the returns hub by ann",
    }
    assert (second["line_item_id"], second["disposition_outcome"]) == ("L-2", "resale_hold")
    assert third["disposition_outcome"] == "recycle"  # by the stock action
    assert "condition_category" not in third  # no Loop condition known: none is invented
    assert call.body["hub_reference"] == "X-5001"
    assert LoopWriter().call(_row(loop, "flag", {"external_id": "1"}), loop).body is None
    with pytest.raises(PermanentFailure):
        LoopWriter().call(_row(loop, "cancel"), loop)


@pytest.mark.django_db
def test_the_happy_returns_writer_approves_with_conditions(workspace):
    hr = workspace.connections["happy-returns"]
    row = _row(
        hr,
        "approve",
        {"external_id": "a1", "disposition": "sellable"},
        {"external_id": "a2", "disposition": "wrong-item"},
        {"external_id": "a3", "disposition": "grade-c", "stock_action": "quarantine"},
        {"external_id": "a4", "state": "not_returned"},
        external_id="3f6c/2a",
    )
    call = HappyReturnsWriter().call(row, hr)
    assert call.path == "/returns/3f6c%2F2a/approve"
    assert call.body == {
        "returning": [
            {"happyReturnsItemID": "a1", "approve": True, "condition": "sellable"},
            {"happyReturnsItemID": "a2", "approve": False, "condition": "wrong-item"},
            {"happyReturnsItemID": "a3", "approve": True, "condition": "damaged"},
        ]
    }
    hr.options = {"write_back": {"approve_path": "/v2/approve/{id}", "approve": ["sellable"]}}
    call = HappyReturnsWriter().call(row, hr)
    assert call.path == "/v2/approve/3f6c%2F2a"
    assert [item["approve"] for item in call.body["returning"]] == [True, False, False]
    unmapped = _row(hr, "approve", {"external_id": "a9", "disposition": "house-code"})
    with pytest.raises(PermanentFailure, match="a9"):
        HappyReturnsWriter().call(unmapped, hr)


def test_happy_returns_waits_what_its_429_body_says():
    writer = HappyReturnsWriter()
    bucket = (
        '{"ErrorMessage": "too many requests: limit 0.500000 requests/sec, leaky bucket size 7"}'
    )
    assert writer.wait_for(httpx.Response(429, text=bucket)) == 7.0
    assert writer.wait_for(httpx.Response(429, headers={"Retry-After": "3"}, text=bucket)) == 3.0
    assert writer.wait_for(httpx.Response(429, text="slow down")) is None


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    assert sender.backoff(1, rand=lambda: 0.0) == 15.0
    assert sender.backoff(1, rand=lambda: 1.0) == 30.0
    assert sender.backoff(3, rand=lambda: 1.0) == 120.0
    assert sender.backoff(30, rand=lambda: 1.0) == sender.MAX_DELAY
    assert sender.backoff(4, rand=lambda: 0.5) == 180.0  # between half and all of 240 s


# --- sending, over real HTTP to the simulators and back to a live hub ----------------------


def _simulator(live_server, workspace, platform, **knobs):
    connection = workspace.connections[platform]
    sim = simulators.for_connection(
        connection,
        live_server.url,
        secret=connection.webhook_secret,
        api_key="sim-key",
        knobs=Knobs(**knobs),
    )
    connection.base_url = sim.serve()
    connection.api_key = "sim-key"
    connection.options = {**connection.options, "requests_per_second": 100}
    connection.save()
    return sim, connection


def _stop(sim):
    """Wait for the platform's follow-up webhooks (the hub handles each before it answers),
    then stop: nothing may still be writing when the test's database is emptied."""
    try:
        sim.drain()
    finally:
        sim.stop()


def _delivered(sim):
    """A new return on the platform, its webhooks sent until the goods reach the warehouse."""
    ret = sim.new_return()
    for stage in ("opened", "in_transit", "delivered"):
        ret.step = STEPS.index(stage)
        for body in sim.dialect.webhook(ret, stage):
            assert sim.send(body) in (200, 202)
    return ret, Return.objects.get(external_id=ret.id)


def _count(summary: str, what: str) -> int:
    """How many rows a ``send_due`` summary says were ``what`` ("2 sent, 1 skipped")."""
    found = re.search(rf"(\d+) {what}", summary)
    return int(found.group(1)) if found else 0


def _grade_all(hub_return, grade, user):
    for unit in hub_return.units.order_by("id"):
        actions.grade_unit(unit, grade, user=user)


@pytest.mark.parametrize("via_api", [True, False], ids=["graded-by-api", "graded-by-action"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_loop_grade_on_the_hub_makes_loop_refund_and_the_return_post(
    live_server, workspace, client, role_users, via_api
):
    sim, _connection = _simulator(live_server, workspace, "loop")
    try:
        sim_return, ret = _delivered(sim)
        assert ret.units.filter(state="received").count() == len(sim_return.units)
        if via_api:
            client.force_login(role_users["warehouse"])
            for unit in ret.units.order_by("id"):
                url = f"/api/v1/returns/{ret.pk}/units/{unit.pk}/grade/"
                answer = client.post(url, {"disposition": "back_to_stock"}, "application/json")
                assert answer.status_code == 200, answer.content
        else:
            _grade_all(ret, "back_to_stock", role_users["warehouse"])
        row = WriteBack.objects.get(return_ref=ret)  # sent at once, after the grade's commit
        assert (row.kind, row.state, row.last_status, row.attempts) == ("process", "done", 200, 1)
        assert row.request["url"].endswith(f"/warehouse/return/{sim_return.id}/process")
        ((action, rid, body),) = sim.dialect.writes
        assert (action, rid) == ("process", sim_return.id)
        assert {str(line["line_item_id"]) for line in body["line_items"]} == {
            u.id for u in sim_return.units
        }
        assert all(line["disposition_outcome"] == "back_to_stock" for line in body["line_items"])

        sim.drain()  # Loop's return.closed, with the refund, reaches the hub
        ret.refresh_from_db()
        assert ret.refunded_amount == sim_return.credit
        posting = ret.postings.get()
        assert posting.state == "ready"  # the settlement came: Khaos may be told
        assert posting.expected_credit == sim_return.credit
        assert not ret.exceptions.filter(status="open").exists()
        assert ret.units.filter(graded_by__isnull=False).count() == len(sim_return.units)

        assert sender.send_due() == "nothing due"  # run again: nothing is sent twice
        assert len(sim.dialect.writes) == 1
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_happy_returns_approve_refunds_the_approved_items(live_server, workspace, role_users):
    sim, _connection = _simulator(live_server, workspace, "happy-returns", seed=5)
    try:
        while len((sim_return := sim.new_return()).units) < 2:
            pass  # a return of two items: one sellable, one the wrong item
        for stage in ("opened", "in_transit"):
            sim_return.step = STEPS.index(stage)
            for body in sim.dialect.webhook(sim_return, stage):
                sim.send(body)
        ret = Return.objects.get(external_id=sim_return.id)
        first, second = ret.units.order_by("id")
        actions.grade_unit(first, "sellable", user=role_users["warehouse"])
        actions.grade_unit(second, "wrong-item", user=role_users["warehouse"])

        row = WriteBack.objects.get(return_ref=ret)
        assert (row.kind, row.state, row.last_status) == ("approve", "done", 200)
        ((_, rid, body),) = sim.dialect.writes
        assert rid == sim_return.id
        assert body["returning"] == [
            {"happyReturnsItemID": first.external_id, "approve": True, "condition": "sellable"},
            {"happyReturnsItemID": second.external_id, "approve": False, "condition": "wrong-item"},
        ]
        sim.drain()  # Happy Returns' return.asn: the approved item is refunded, not the other
        ret.refresh_from_db()
        paid = next(u for u in sim_return.units if u.id == first.external_id)
        assert ret.refunded_amount == paid.credit
        assert ret.money_state in ("refunded", "posted")
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_simulators_refuse_what_the_platforms_would(live_server, workspace):
    loop_sim, loop = _simulator(live_server, workspace, "loop")
    hr_sim, hr = _simulator(live_server, workspace, "happy-returns")
    try:
        ret = loop_sim.new_return()
        key = {"X-Authorization": "sim-key"}
        url = f"{loop.base_url}/warehouse/return/{ret.id}/process"
        assert httpx.post(url, json={}).status_code == 401  # no key
        assert (
            httpx.post(
                f"{loop.base_url}/warehouse/return/nope/process", headers=key, json={}
            ).status_code
            == 404
        )
        unknown = httpx.post(url, headers=key, json={"line_items": [{"line_item_id": 999}]})
        assert unknown.status_code == 422 and "999" in unknown.json()["errors"]["message"]
        bad = httpx.post(
            url,
            headers=key,
            json={
                "line_items": [
                    {"line_item_id": int(ret.units[0].id), "disposition_outcome": "sellable"}
                ]
            },
        )
        assert bad.status_code == 422
        flagged = httpx.post(url.replace("/process", "/flag"), headers=key)
        assert (flagged.status_code, flagged.json()) == (200, "true")
        refused = httpx.post(url, headers=key, json={})
        assert refused.json()["errors"]["code"] == "UNPROCESSABLE_FLAGGED_RETURN"
        loop_sim.drain()
        assert Return.objects.get(external_id=ret.id).platform_state == "review"

        hr_ret = hr_sim.new_return()
        hr_key = {"X-Hr-Apikey": "sim-key"}
        approve = f"{hr.base_url}/returns/{hr_ret.id}/approve"
        item = hr_ret.units[0].id
        for returning in (
            [{"happyReturnsItemID": "nope", "approve": True, "condition": "sellable"}],
            [{"happyReturnsItemID": item, "approve": True, "condition": "like-new"}],
            [{"happyReturnsItemID": item, "approve": "yes", "condition": "sellable"}],
            [],
        ):
            answer = httpx.post(approve, headers=hr_key, json={"returning": returning})
            assert answer.status_code == 400, returning
        assert httpx.post(approve, json={"returning": []}).status_code == 401
        gone = f"{hr.base_url}/returns/nope/approve"
        assert httpx.post(gone, headers=hr_key, json={"returning": []}).status_code == 404
        assert not any(u.approved for u in hr_ret.units)  # nothing refused was refunded
    finally:
        _stop(loop_sim)
        _stop(hr_sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_500_is_retried_after_a_backoff_then_sent(live_server, workspace, role_users, settings):
    sim, _connection = _simulator(live_server, workspace, "loop", fail_next=[500])
    try:
        _, ret = _delivered(sim)
        before = timezone.now()
        _grade_all(ret, "back_to_stock", role_users["warehouse"])  # sent at once: a 500
        row = WriteBack.objects.get(return_ref=ret)
        assert (row.state, row.attempts, row.last_status) == ("failed", 1, 500)
        wait = (row.next_attempt_at - before).total_seconds()
        assert sender.BASE_DELAY / 2 - 1 <= wait <= sender.BASE_DELAY + 5  # backed off
        assert sender.send_due() == "nothing due"  # not due yet: nothing is sent
        assert sim.api_calls == 1

        WriteBack.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # time passes
        assert sender.send_due() == "1 sent"
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_status, row.last_error) == ("done", 2, 200, "")
        assert sim.api_calls == 2
        assert not ExceptionCase.objects.exists()  # a passing failure opens nothing
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_platform_down_for_every_attempt_is_given_up_as_unreachable(
    live_server, workspace, role_users, settings
):
    settings.HUB = {**settings.HUB, "WRITEBACK_MAX_ATTEMPTS": 2}
    sim, _connection = _simulator(live_server, workspace, "loop", outage=True)
    try:
        _, ret = _delivered(sim)
        _grade_all(ret, "back_to_stock", role_users["warehouse"])  # 503
        row = WriteBack.objects.get(return_ref=ret)
        assert row.state == "failed"
        WriteBack.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert sender.send_due() == "1 given up"  # 503 again, on the last attempt
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_status) == ("dead", 2, 503)
        case = ExceptionCase.objects.get(cause_key=f"platform_unreachable:write_back:{row.pk}")
        assert (case.kind, case.owner, case.status, case.return_ref) == (
            "platform_unreachable",
            "data",
            "open",
            ret,
        )
        assert sender.send_due() == "nothing due"  # given up: only a person sends it again
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("platform", ["loop", "happy-returns"])
def test_a_429_waits_what_the_platform_asks(live_server, workspace, role_users, platform):
    sim, connection = _simulator(live_server, workspace, platform, rate_limit_per_minute=1)
    try:
        _sim_return, ret = _delivered(sim)
        header = {"loop": "X-Authorization", "happy-returns": "X-Hr-Apikey"}[platform]
        httpx.get(f"{connection.base_url}/anything", headers={header: "sim-key"})  # the minute's
        before = timezone.now()
        _grade_all(
            ret,
            {"loop": "back_to_stock", "happy-returns": "sellable"}[platform],
            role_users["warehouse"],
        )
        row = WriteBack.objects.get(return_ref=ret)
        assert (row.state, row.last_status) == ("failed", 429)
        assert row.attempts == 0  # being asked to slow down is not a failed attempt
        wait = (row.next_attempt_at - before).total_seconds()
        assert 55 <= wait <= 62  # the minute's remainder (Loop: Retry-After; HR: the body)
        assert sender.send_due() == "nothing due"
        assert sim.dialect.writes == []
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_refused_key_is_permanent_and_its_exception_closes_once_sent(
    live_server, workspace, role_users, client
):
    sim, connection = _simulator(live_server, workspace, "loop")
    try:
        _, ret = _delivered(sim)
        connection.api_key = "revoked-key"
        connection.save()
        _grade_all(ret, "back_to_stock", role_users["warehouse"])
        row = WriteBack.objects.get(return_ref=ret)
        assert (row.state, row.attempts, row.last_status) == ("dead", 1, 401)  # not retried
        case = ExceptionCase.objects.get(kind="platform_unreachable")
        assert case.status == "open" and case.details["write_back_id"] == row.pk
        assert "401" in case.message and case.connection == connection
        assert TimelineEntry.objects.filter(return_ref=ret, kind="write_back_failed").exists()

        client.force_login(role_users["warehouse"])  # not the warehouse's exception
        assert client.post(f"/api/v1/exceptions/{case.pk}/retry/").status_code == 403
        connection.api_key = "sim-key"  # the data team fixes the key, and retries
        connection.save()
        client.force_login(role_users["data"])
        assert client.post(f"/api/v1/exceptions/{case.pk}/retry/").status_code == 200
        row.refresh_from_db()
        assert (row.state, row.last_status) == ("done", 200)
        case.refresh_from_db()
        assert case.status == "resolved"
        assert case.resolution == "Resolved automatically: Loop Returns accepted the write-back."
        assert client.post(f"/api/v1/exceptions/{case.pk}/retry/").status_code == 409
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_row_twice(live_server, workspace, role_users, monkeypatch):
    monkeypatch.setattr(outbox, "enqueue", lambda row_id: None)  # only the racers send
    sim, _connection = _simulator(live_server, workspace, "loop")
    try:
        everything = []
        for _round in range(3):
            rows = []
            for _ in range(4):
                _, ret = _delivered(sim)
                _grade_all(ret, "back_to_stock", role_users["warehouse"])
                rows.append(WriteBack.objects.get(return_ref=ret))
            # Two scheduled runs and a worker sending each row by id, released together.
            due_a, due_b, one_by_one = race(
                sender.send_due,
                sender.send_due,
                lambda rows=rows: [sender.send_one(row.pk) for row in rows],
            )
            sent = _count(due_a, "sent") + _count(due_b, "sent") + one_by_one.count("sent")
            assert sent == len(rows), (due_a, due_b, one_by_one)
            for row in rows:
                row.refresh_from_db()
                assert (row.state, row.attempts) == ("done", 1)
            everything += rows
        told = [rid for _action, rid, _body in sim.dialect.writes]
        assert sorted(told) == sorted(r.payload["return"]["external_id"] for r in everything)
        assert sender.send_due() == "nothing due"  # and once more: still one call each
        assert len(sim.dialect.writes) == len(everything)
    finally:
        _stop(sim)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_send_whose_worker_died_is_released_and_sent(
    live_server, workspace, role_users, monkeypatch
):
    monkeypatch.setattr(outbox, "enqueue", lambda row_id: None)
    sim, _connection = _simulator(live_server, workspace, "loop")
    try:
        _, ret = _delivered(sim)
        _grade_all(ret, "back_to_stock", role_users["warehouse"])
        row = WriteBack.objects.get(return_ref=ret)
        assert outbox.claim(row.pk, timezone.now()) is not None  # a worker took it, and died
        assert sender.send_due() == "nothing due"  # its lease still runs: nobody else sends
        WriteBack.objects.filter(pk=row.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        # Released (its outcome unknown) and, being due, sent again in the same run.
        assert sender.send_due() == "1 interrupted send(s) released; 1 sent"
        row.refresh_from_db()
        assert (row.state, row.attempts) == ("done", 2)
        assert len(sim.dialect.writes) == 1
    finally:
        _stop(sim)


# --- who sees it: the API, the admin, the schedule ----------------------------------------


@pytest.fixture
def queued(workspace, role_users):
    ret = _loop_return(workspace, "LW-API")
    _grade(ret, 1, "back_to_stock", role_users["warehouse"])
    _grade(ret, 2, "back_to_stock", role_users["warehouse"])
    return WriteBack.objects.get(return_ref=ret)


@pytest.mark.django_db
def test_the_api_lists_write_backs_for_the_data_team(queued, api_client_for):
    client = api_client_for("data")
    listed = client.get("/api/v1/write-backs/?state=pending&kind=process&platform=loop")
    assert listed.status_code == 200
    (item,) = listed.json()["results"]
    assert item["id"] == queued.pk and item["associated_ref"] == "LOOP-LW-API"
    assert "payload" not in item  # bodies are for the detail
    assert client.get("/api/v1/write-backs/?state=done").json()["results"] == []
    assert client.get(f"/api/v1/write-backs/?return_id={queued.return_ref_id}").json()["results"]
    assert client.get("/api/v1/write-backs/?state=sideways").status_code == 400
    detail = client.get(f"/api/v1/write-backs/{queued.pk}/").json()
    assert [u["disposition"] for u in detail["payload"]["units"]] == ["back_to_stock"] * 2
    for role in ("finance", "warehouse", "cx", "nobody"):
        assert api_client_for(role).get(f"/api/v1/write-backs/{queued.pk}/").status_code == 403
    assert client.post("/api/v1/write-backs/", {}, format="json").status_code == 403
    admin = api_client_for("admin")  # read-only for everyone: not even a superuser writes
    assert admin.post("/api/v1/write-backs/", {}, format="json").status_code == 405
    assert admin.delete(f"/api/v1/write-backs/{queued.pk}/").status_code == 405


@pytest.mark.django_db
def test_data_staff_send_a_row_again_from_the_admin(queued, client, role_users):
    WriteBack.objects.filter(pk=queued.pk).update(state="dead", attempts=8)
    data = role_users["data"]
    data.is_staff = True
    data.save()
    client.force_login(data)
    page = client.get("/admin/returns_hub/writeback/")
    assert page.status_code == 200 and "Send the selected write-backs again now" in page.text
    answer = client.post(
        "/admin/returns_hub/writeback/",
        {"action": "send_again_now", "_selected_action": [queued.pk]},
        follow=True,
    )
    assert "1 write-back(s) queued again now" in answer.text
    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == ("pending", 0)
    assert client.get(f"/admin/returns_hub/writeback/{queued.pk}/change/").status_code == 200

    warehouse = role_users["warehouse"]
    warehouse.is_staff = True
    warehouse.save()
    client.force_login(warehouse)
    assert client.get("/admin/returns_hub/writeback/").status_code == 403


@pytest.mark.django_db
def test_the_send_is_scheduled_every_minute_by_name():
    from django_q.models import Schedule

    from returns_hub import schedules

    assert "send-write-backs" in schedules.register_all()
    schedule = Schedule.objects.get(name="send-write-backs")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "connectors.writeback.send_due",
        Schedule.MINUTES,
        1,
    )


@pytest.mark.django_db
def test_platform_refunds_never_reach_a_return_through_the_outbox_by_themselves(workspace):
    """The outbox only carries people's grades: a whole platform story queues nothing."""
    loop = workspace.connections["loop"]
    _loop_return(workspace, "LW-P")
    e.apply(
        loop,
        e.graded("LW-P", 1, "back_to_stock"),
        e.graded("LW-P", 2, "back_to_stock"),
        e.refunded("LW-P", "59.98"),
    )
    ret = Return.objects.get(external_id="LW-P")
    assert ret.refunded_amount == Decimal("59.98") and ret.postings.get().state == "ready"
    assert not WriteBack.objects.exists()


@pytest.mark.django_db
def test_a_key_the_platform_echoes_is_masked_before_it_is_kept(
    workspace, role_users, django_capture_on_commit_callbacks, monkeypatch
):
    """The answer is kept on the row and shown to the data team: never the key in full."""
    import respx

    monkeypatch.setattr(outbox, "enqueue", lambda row_id: None)
    connection = workspace.connections["loop"]
    connection.api_key = "loop-key-7f3a9c21"
    connection.base_url = "https://loop.test"
    connection.save()
    ret = _loop_return(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        for uid in (1, 2):
            _grade(ret, uid, "back_to_stock", role_users["warehouse"])
    row = WriteBack.objects.get()
    echo = '{"error": "invalid token loop-key-7f3a9c21"}'
    with respx.mock(assert_all_called=True) as platform:
        platform.route(host="loop.test").mock(return_value=httpx.Response(401, text=echo))
        assert sender.send_one(row.pk) == "given up"
    row.refresh_from_db()
    assert row.last_status == 401
    for kept in (row.response, row.last_error):
        assert "loop-key-7f3a9c21" not in kept and "c21" in kept  # masked, the end shown
