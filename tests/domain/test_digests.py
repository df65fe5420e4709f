"""Each team's daily digest of its new and ageing exceptions: email, chat, once a day."""

import datetime as dt
import io
import json
import threading

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from returns_hub import schedules, tasks
from returns_hub.models import ExceptionCase, TeamDigest
from returns_hub.services import digests
from tests import factories

pytestmark = pytest.mark.django_db

# 08:00 local (Europe/London) on a Monday: after the default send hour of 07.
NOW = timezone.make_aware(dt.datetime(2025, 3, 10, 8, 0))
WEBHOOK = "https://hooks.example.test/services/T000/B000/secret-token"


def case(kind: str, *, age: dt.timedelta, status: str = "open", message: str = "") -> ExceptionCase:
    made = factories.ExceptionCaseFactory(kind=kind, status=status, message=message or kind)
    ExceptionCase.objects.filter(pk=made.pk).update(created_at=NOW - age)
    made.refresh_from_db()
    return made


@pytest.fixture
def cases():
    return {
        # finance: two new, one ageing, one old but resolved (not ageing)
        "finance_new_1": case("value_mismatch", age=dt.timedelta(hours=2)),
        "finance_new_2": case("settlement_missing", age=dt.timedelta(hours=20)),
        "finance_ageing": case("value_mismatch", age=dt.timedelta(days=5)),
        "finance_old_resolved": case("value_mismatch", age=dt.timedelta(days=9), status="resolved"),
        "finance_middle": case("settlement_missing", age=dt.timedelta(days=2)),
        # data: one new
        "data_new": case("unknown_sku", age=dt.timedelta(hours=1), message="SKU ZZ-99 unknown"),
        # warehouse: one ageing
        "warehouse_ageing": case("units_not_arrived", age=dt.timedelta(days=4)),
    }


def digest_for(team: str, **fields) -> TeamDigest:
    values = {"recipients": f"{team}-lead@example.com", **fields}
    return TeamDigest.objects.create(team=team, **values)


def test_build_splits_a_teams_new_and_ageing_cases_and_counts_by_kind(cases):
    built = digests.build("finance", now=NOW, ageing_days=3)

    assert [line.id for line in built.new] == [cases["finance_new_1"].pk, cases["finance_new_2"].pk]
    assert [line.id for line in built.ageing] == [cases["finance_ageing"].pk]
    assert built.ageing[0].age_days == 5
    assert (built.new_count, built.ageing_count, built.open_count) == (2, 1, 4)
    assert built.new_by_kind == {"settlement_missing": 1, "value_mismatch": 1}
    assert built.open_by_kind == {"settlement_missing": 2, "value_mismatch": 2}
    assert "2 new, 1 ageing" in built.subject
    assert f"#{cases['finance_ageing'].pk} Value mismatch (open, 5d)" in built.body
    assert f"#{cases['data_new'].pk} " not in built.body
    assert f"#{cases['finance_middle'].pk} " not in built.body  # open 2 days: neither


def test_build_new_cases_since_the_last_send(cases):
    built = digests.build("finance", now=NOW, since=NOW - dt.timedelta(hours=3))
    assert [line.id for line in built.new] == [cases["finance_new_1"].pk]


def test_build_is_a_bounded_number_of_queries(cases, django_assert_max_num_queries):
    for _ in range(60):
        case("value_mismatch", age=dt.timedelta(days=10))
    with django_assert_max_num_queries(6):
        built = digests.build("finance", now=NOW)
    assert built.ageing_count == 61
    assert len(built.ageing) == digests.LIST_LIMIT
    assert "… and 11 more" in built.body


def test_each_team_receives_only_its_own_cases(cases, mailoutbox):
    for team in ("finance", "data", "warehouse"):
        digest_for(team)

    outcomes = digests.send_due(now=NOW)

    assert sorted(o.team for o in outcomes if o.sent) == ["data", "finance", "warehouse"]
    mails = {mail.to[0]: mail for mail in mailoutbox}
    assert set(mails) == {
        "finance-lead@example.com",
        "data-lead@example.com",
        "warehouse-lead@example.com",
    }
    finance = mails["finance-lead@example.com"]
    assert "2 new, 1 ageing" in finance.subject
    for key in ("finance_new_1", "finance_new_2", "finance_ageing"):
        assert f"#{cases[key].pk} " in finance.body
    for key in ("data_new", "warehouse_ageing", "finance_old_resolved", "finance_middle"):
        assert f"#{cases[key].pk} " not in finance.body
    data = mails["data-lead@example.com"]
    assert "1 new, 0 ageing" in data.subject
    assert "SKU ZZ-99 unknown" in data.body
    warehouse = mails["warehouse-lead@example.com"]
    assert "0 new, 1 ageing" in warehouse.subject
    assert f"#{cases['warehouse_ageing'].pk} Units not arrived (open, 4d)" in warehouse.body


def test_a_quiet_day_still_sends_a_short_nothing_new_mail(mailoutbox):
    digest_for("cx")
    digests.send_due(now=NOW)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject.endswith("nothing new")
    assert "Nothing new since" in mailoutbox[0].body


def test_sent_once_a_day_at_or_after_the_send_hour(cases, mailoutbox):
    config = digest_for("finance", send_hour=9)

    assert not digests.send_due(now=NOW)[0].sent  # 08:00, before 09
    nine = NOW + dt.timedelta(hours=1)
    assert digests.send_due(now=nine)[0].sent
    assert not digests.send_due(now=nine + dt.timedelta(hours=1))[0].sent
    assert len(mailoutbox) == 1

    config.refresh_from_db()
    assert config.last_sent_on == dt.date(2025, 3, 10)
    assert config.last_sent_at == nine
    assert "emailed 1 recipient(s); 2 new, 1 ageing" in config.last_result


def test_the_next_days_digest_lists_what_is_new_since_the_last(cases, mailoutbox):
    digest_for("finance")
    digests.send_due(now=NOW)
    later = case("value_mismatch", age=-dt.timedelta(hours=5))  # opened after that send
    digests.send_due(now=NOW + dt.timedelta(hours=6))  # same day: nothing more
    tomorrow = NOW + dt.timedelta(days=1)
    digests.send_due(now=tomorrow)

    assert len(mailoutbox) == 2
    assert "1 new" in mailoutbox[1].subject
    assert f"#{later.pk} " in mailoutbox[1].body.split("Ageing")[0]


def test_the_task_sends_each_due_team_once_when_run_twice(cases, mailoutbox):
    digest_for("finance", send_hour=0)
    digest_for("data", send_hour=0)
    digest_for("cx", send_hour=0, enabled=False)

    assert sorted(tasks.send_digests()) == ["data", "finance"]
    assert tasks.send_digests() == []
    assert len(mailoutbox) == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_the_digest_once(mailoutbox):
    factories.ExceptionCaseFactory(kind="value_mismatch")
    digest_for("finance", send_hour=0)
    start = threading.Barrier(4)
    sent = []

    def worker():
        try:
            start.wait()
            sent.extend(o.team for o in digests.send_due() if o.sent)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sent == ["finance"]
    assert len(mailoutbox) == 1


@respx.mock
def test_the_chat_webhook_receives_a_json_summary(cases, mailoutbox):
    route = respx.post(WEBHOOK).mock(return_value=httpx.Response(200, text="ok"))
    config = digest_for("finance", chat_webhook_url=WEBHOOK)

    digests.send_due(now=NOW)

    assert route.call_count == 1
    body = json.loads(route.calls[0].request.content)
    assert body["team"] == "finance"
    assert (body["new"], body["ageing"], body["open"]) == (2, 1, 4)
    assert body["new_by_kind"] == {"settlement_missing": 1, "value_mismatch": 1}
    assert "2 new, 1 ageing" in body["text"]
    config.refresh_from_db()
    assert "chat webhook: ok (200)" in config.last_result
    assert len(mailoutbox) == 1


@respx.mock
@pytest.mark.parametrize(
    ("mock", "recorded"),
    [
        ({"return_value": httpx.Response(500)}, "chat webhook failed: HTTP 500"),
        ({"side_effect": httpx.ConnectTimeout("slow")}, "chat webhook failed: ConnectTimeout"),
    ],
)
def test_a_failing_chat_webhook_is_recorded_and_the_email_still_goes(
    cases, mailoutbox, mock, recorded
):
    route = respx.post(WEBHOOK).mock(**mock)
    config = digest_for("finance", chat_webhook_url=WEBHOOK)

    outcome = digests.send_due(now=NOW)[0]

    assert outcome.sent
    assert route.call_count == 1  # tried once: no retries
    assert len(mailoutbox) == 1
    config.refresh_from_db()
    assert recorded in config.last_result
    assert "secret-token" not in config.last_result  # the webhook URL is its secret
    assert config.last_sent_on == dt.date(2025, 3, 10)
    assert not digests.send_due(now=NOW + dt.timedelta(hours=1))[0].sent


def test_a_failing_email_gives_the_day_back_for_the_next_hourly_run(cases, mailoutbox, monkeypatch):
    config = digest_for("finance")

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    with monkeypatch.context() as patched:
        patched.setattr(EmailMultiAlternatives, "send", refuse)
        outcome = digests.send_due(now=NOW)[0]
    assert not outcome.sent
    config.refresh_from_db()
    assert config.last_sent_on is None
    assert "failed: ConnectionRefusedError: smtp down" in config.last_result

    assert digests.send_due(now=NOW + dt.timedelta(hours=1))[0].sent
    assert len(mailoutbox) == 1


def test_group_members_can_receive_the_digest_too(role_users, mailoutbox):
    factories.UserFactory(username="ex-finance", is_active=False).groups.add(
        role_users["finance"].groups.get()
    )
    digest_for("finance", recipients="", include_group_members=True)
    digest_for("cx", recipients="", include_group_members=False)

    outcomes = {o.team: o for o in digests.send_due(now=NOW)}

    assert outcomes["finance"].recipients == ["finance-user@example.com"]
    assert "no email recipients" in outcomes["cx"].result
    assert [mail.to for mail in mailoutbox] == [["finance-user@example.com"]]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (
            "a@example.com, B@example.com;c@example.com\n",
            ["a@example.com", "B@example.com", "c@example.com"],
        ),
        ('["a@example.com", "b@example.com", "A@example.com"]', ["a@example.com", "b@example.com"]),
        ("", []),
    ],
)
def test_recipients_are_a_comma_list_or_a_json_list(raw, parsed):
    assert TeamDigest(team="cx", recipients=raw).recipient_list() == parsed


@pytest.mark.parametrize("raw", ["a@example.com, not-an-address", '["a@example.com", 3]', "[oops"])
def test_invalid_recipients_are_refused(raw):
    with pytest.raises(ValidationError):
        TeamDigest(team="cx", recipients=raw).full_clean()


def test_the_command_prints_what_was_sent(cases, mailoutbox):
    digest_for("finance")
    digest_for("data")
    out = io.StringIO()

    call_command("send_digests", "--team", "finance", "--force", stdout=out)
    call_command("send_digests", "--team", "finance", "--force", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("finance: sent to finance-lead@example.com") for line in lines)
    assert len(mailoutbox) == 2  # --force sends again the same day


def test_the_command_refuses_a_team_without_a_digest(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no digest is configured for cx"):
        call_command("send_digests", "--team", "cx")


def test_the_schedule_is_registered_by_name(db):
    assert "send-digests" in schedules.register_all()
    row = Schedule.objects.get(name="send-digests")
    assert row.func == "returns_hub.tasks.send_digests"
    assert row.schedule_type == Schedule.HOURLY


@pytest.mark.parametrize(
    ("role", "status"),
    [("data", 200), ("admin", 200), ("warehouse", 403), ("finance", 403), ("cx", 403)],
)
def test_the_admin_change_page_is_for_data_and_admins(client, role_users, role, status):
    config = digest_for("finance", chat_webhook_url=WEBHOOK)
    user = role_users[role]
    user.is_staff = True
    user.save()
    client.force_login(user)

    change = client.get(reverse("admin:returns_hub_teamdigest_change", args=[config.pk]))
    listing = client.get(reverse("admin:returns_hub_teamdigest_changelist"))

    assert change.status_code == status
    assert listing.status_code == status


def test_data_can_edit_a_digest_in_the_admin_and_bad_addresses_are_refused(client, role_users):
    config = digest_for("finance")
    user = role_users["data"]
    user.is_staff = True
    user.save()
    client.force_login(user)
    url = reverse("admin:returns_hub_teamdigest_change", args=[config.pk])
    form = {
        "team": "finance",
        "enabled": "on",
        "recipients": "x@example.com, nope",
        "chat_webhook_url": "",
        "ageing_days": "5",
        "send_hour": "6",
    }

    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "Not email addresses: nope" in refused.content.decode()

    saved = client.post(url, {**form, "recipients": "x@example.com, y@example.com"})
    assert saved.status_code == 302
    config.refresh_from_db()
    assert (config.recipient_list(), config.ageing_days, config.send_hour) == (
        ["x@example.com", "y@example.com"],
        5,
        6,
    )


@pytest.mark.parametrize(
    ("role", "perms"),
    [
        ("data", {"view", "add", "change", "delete"}),
        ("admin", {"view", "add", "change", "delete"}),
        ("finance", set()),
        ("warehouse", set()),
        ("cx", set()),
        ("nobody", set()),
    ],
)
def test_role_matrix_for_team_digests(role_users, role, perms):
    user = role_users[role]
    granted = {
        action
        for action in ("view", "add", "change", "delete")
        if user.has_perm(f"returns_hub.{action}_teamdigest")
    }
    assert granted == perms
