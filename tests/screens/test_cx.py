"""/cx/: find a return, read its story and its exchanges' Khaos status, see what holds it,
and complete the customer's row, which moves the return on."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from returns_hub.models import CustomerMapping, ExceptionCase, Posting
from returns_hub.screens.cx import timeline
from tests import factories
from tests.conftest import fixture_bytes, khaos_basic
from tests.engine_events import (
    apply,
    apply_together,
    graded,
    loop_5002_exchange,
    opened,
    unit,
)

pytestmark = pytest.mark.django_db

EMAIL = "nora.quinn@example.com"
ROLES_THAT_VIEW = ["finance", "warehouse", "cx", "data", "admin"]


def cx_return(**fields):
    return factories.ReturnFactory(**fields)


def held_for_address(workspace, rid="AD1"):
    """A graded ReBound return with a partial address and no name: held by
    incomplete_address (the channel's default URN is known)."""
    workspace.channel.default_urn = "WEBGUEST"
    workspace.channel.save()
    event = dataclasses.replace(
        opened(rid, [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order="1050", email=EMAIL, name=""),
        address={"line1": "4 Kiln Row", "postcode": "YO21 3AA", "country_code": "GB"},
    )
    return apply_together(workspace.connections["rebound"], event, graded(rid, "1", "restocked"))


def page_text(response) -> str:
    """The page's text without tags, spaces collapsed (none before punctuation)."""
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ([:.,)])", r"\1", text).replace("( ", "(")


@pytest.fixture
def cx(client, role_users):
    client.force_login(role_users["cx"])
    return client


# --- who may see and change what ---------------------------------------------------


def _pages(ret) -> list[str]:
    return ["/cx/", f"/cx/?q={ret.order_ref}x", f"/cx/returns/{ret.pk}/"]


@pytest.mark.parametrize(
    ("role", "status"), [*((role, 200) for role in ROLES_THAT_VIEW), ("nobody", 403)]
)
def test_every_team_that_views_returns_may_look(client, role_users, role, status):
    ret = cx_return()
    client.force_login(role_users[role])
    for url in _pages(ret):
        assert client.get(url).status_code == status, url


def test_anyone_not_logged_in_is_sent_to_log_in(client):
    ret = cx_return()
    for url in [*_pages(ret), f"/cx/returns/{ret.pk}/customer/"]:
        response = client.get(url) if "customer" not in url else client.post(url, {})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/cx/")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("cx", True),
        ("data", True),
        ("admin", True),
        ("finance", False),
        ("warehouse", False),
        ("nobody", False),
    ],
)
def test_only_who_may_change_customer_rows_may_save_one(client, role_users, role, allowed):
    ret = cx_return(customer_email=EMAIL)
    client.force_login(role_users[role])
    values = {"urn": "WEB500", "name": "Nora Quinn", "line1": "4 Kiln Row", "town": "Whitby"}
    response = client.post(f"/cx/returns/{ret.pk}/customer/", {**values, "country": "GB"})
    assert response.status_code == (302 if allowed else 403)
    assert CustomerMapping.objects.filter(email=EMAIL).exists() is allowed
    form_shown = "Save the customer" in client.get(f"/cx/returns/{ret.pk}/").content.decode()
    assert form_shown is allowed


def test_the_customer_row_is_shown_only_to_teams_that_may_read_it(client, role_users):
    ret = cx_return(customer_email=EMAIL)
    CustomerMapping.objects.create(email=EMAIL, urn="WEB500", line1="4 Kiln Row")
    for role, shown in (("finance", True), ("cx", True), ("warehouse", False)):
        client.force_login(role_users[role])
        assert ("4 Kiln Row" in client.get(f"/cx/returns/{ret.pk}/").content.decode()) is shown


def test_a_get_cannot_save_and_a_post_cannot_search(cx):
    ret = cx_return()
    assert cx.get(f"/cx/returns/{ret.pk}/customer/").status_code == 405
    assert cx.post("/cx/", {"q": "x"}).status_code == 405
    assert cx.get("/cx/returns/999999999/").status_code == 404


# --- finding a return --------------------------------------------------------------------


def _found(response, ret) -> bool:
    return response.status_code == 302 and response["Location"] == f"/cx/returns/{ret.pk}/"


def test_one_match_opens_the_return_by_each_key(cx):
    ret = cx_return(
        external_id="ext-77A",
        associated_ref="LOOP-ext-77A",
        order_ref="HF90011",
        customer_email=EMAIL,
    )
    cx_return()  # another customer's return, never found by these
    for q in ("HF90011", "#HF90011", " Nora.Quinn@Example.COM ", "LOOP-ext-77A", "loop-ext-77A"):
        assert _found(cx.get("/cx/", {"q": q}), ret), q
    assert _found(cx.get("/cx/", {"q": "ext-77A"}), ret)
    assert _found(cx.get("/cx/", {"q": str(ret.pk)}), ret)


def test_several_matches_are_listed_newest_first(cx):
    older = cx_return(customer_email=EMAIL, order_ref="HF1")
    newer = cx_return(customer_email=EMAIL, order_ref="HF2")
    response = cx.get("/cx/", {"q": EMAIL.upper()})
    assert response.status_code == 200
    rows = [row.record for row in response.context["table"].rows]
    assert rows == [newer, older]
    html = response.content.decode()
    assert f'href="/cx/returns/{newer.pk}/"' in html and newer.associated_ref in html


def test_an_htmx_search_with_one_match_asks_the_browser_to_open_it(cx):
    ret = cx_return(order_ref="HF555")
    response = cx.get("/cx/", {"q": "HF555"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/cx/returns/{ret.pk}/"


def test_nothing_found_says_so(cx):
    cx_return(order_ref="HF1")
    response = cx.get("/cx/", {"q": "no-such-order"})
    assert response.status_code == 200
    assert "Nothing found for “no-such-order”" in page_text(response)


def test_without_a_query_nothing_is_read_and_the_page_asks(cx):
    cx_return()
    response = cx.get("/cx/")
    assert response.status_code == 200
    assert "Type something to look for." in page_text(response)
    assert list(response.context["table"].rows) == []


def test_platform_and_state_narrow_the_search(cx):
    loop = factories.PlatformConnectionFactory(platform="loop", slug="cx-loop")
    swap = factories.PlatformConnectionFactory(platform="swap", slug="cx-swap")
    on_loop = cx_return(connection=loop, customer_email=EMAIL)
    on_swap = cx_return(connection=swap, customer_email=EMAIL, state="received")
    cx_return(connection=swap, customer_email=EMAIL)
    assert _found(cx.get("/cx/", {"q": EMAIL, "platform": "loop"}), on_loop)
    assert _found(cx.get("/cx/", {"q": EMAIL, "state": "received"}), on_swap)


def test_a_search_it_cannot_use_is_a_400_naming_it(cx):
    response = cx.get("/cx/", {"q": "x", "platform": "myspace"})
    assert response.status_code == 400
    assert "Check the filters" in page_text(response)
    assert cx.get("/cx/", {"q": "x" * 255}).status_code == 400
    assert cx.get("/cx/", {"q": EMAIL, "after": "nonsense"}).status_code == 400


def test_results_page_by_keyset(cx):
    made = [cx_return(customer_email=EMAIL) for _ in range(52)]
    first = cx.get("/cx/", {"q": EMAIL})
    assert len(first.context["table"].rows) == 50
    next_url = first.context["next_url"]
    assert "after=" in next_url
    second = cx.get("/cx/" + next_url)
    assert [row.record for row in second.context["table"].rows] == made[1::-1]


def _queries(client, url, **query) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, query).status_code == 200
    return len(captured)


def test_the_lookup_costs_the_same_queries_for_1_or_30_rows(cx):
    cx_return(customer_email="two@example.com", state="received")
    cx_return(customer_email="two@example.com")
    cases = [cx_return(customer_email=EMAIL) for _ in range(30)]
    for ret in cases[:5]:
        factories.ExceptionCaseFactory(return_ref=ret, kind="incomplete_address", owner="cx")
    # A list filter with 1 row and with 30 (a search with one match opens it instead).
    one = _queries(cx, "/cx/", state="received")
    thirty = _queries(cx, "/cx/", state="expected", platform="loop")
    assert one == thirty
    # The search box with 2 and with 30 matches.
    assert _queries(cx, "/cx/", q="two@example.com") == _queries(cx, "/cx/", q=EMAIL)


# --- the CX view of a return ------------------------------------------------------------


def test_the_timeline_reads_as_sentences(cx, role_users, workspace):
    ret = cx_return(connection=workspace.connections["loop"])
    item = factories.ReturnUnitFactory(return_ref=ret, platform_sku="HF-TEE-ORG-WHT-M")
    person = role_users["warehouse"]
    person.first_name, person.last_name = "Wendy", "Ware"
    person.save()
    entries = [
        dict(kind="state_changed", cause="platform", from_state="expected", to_state="in_transit"),
        dict(
            kind="unit_state_changed",
            cause="user",
            actor=person,
            unit=item,
            from_state="received",
            to_state="graded",
        ),
        dict(kind="money_state_changed", cause="task", from_state="refunded", to_state="posted"),
        dict(
            kind="khaos_order_status",
            cause="khaos",
            message="Khaos order SO02131 for LOOP-1-X is Received",
        ),
        dict(kind="platform_refund_issued", cause="platform", message="Platform refunded 9.99 GBP"),
        dict(kind="exception_opened", cause="task", message="Incomplete address (cx): no town"),
        dict(kind="something_new", cause="task", message="A thing happened."),
        dict(kind="posting_ready", cause="user", actor=person, message="Posting LOOP-1 ready"),
        dict(kind="exception_opened", cause="platform", message="Unknown SKU (data): HF-X"),
        dict(kind="money_state_changed", cause="khaos", from_state="posted", to_state="confirmed"),
    ]
    for fields in entries:
        factories.TimelineEntryFactory(return_ref=ret, **{"message": "x", **fields})

    response = cx.get(f"/cx/returns/{ret.pk}/")
    said = [line.text for line in response.context["view"].sentences]
    assert said == [
        "Loop Returns moved the return from expected to in transit.",
        "Wendy Ware moved unit HF-TEE-ORG-WHT-M from received to graded.",
        "The hub moved the money from refunded by the platform to posted to Khaos.",
        "Khaos Control sent an order status: Khaos order SO02131 for LOOP-1-X is Received.",
        "Loop Returns reported a refund: platform refunded 9.99 GBP.",
        "The hub found a problem: incomplete address (cx): no town.",
        "The hub recorded: a thing happened.",
        "After Wendy Ware's action, the hub sent the return to Khaos: posting LOOP-1 ready.",
        "After a Loop Returns event, the hub found a problem: unknown SKU (data): HF-X.",
        "After a message from Khaos Control, the hub moved the money from posted to Khaos to "
        "confirmed by Khaos.",
    ]
    text = page_text(response)
    assert "Wendy Ware moved unit HF-TEE-ORG-WHT-M from received to graded." in text


def test_a_real_returns_story_names_who_did_what(cx, role_users, workspace):
    from returns_hub.services import actions

    ret = apply(
        workspace.connections["loop"],
        opened("5101", [unit("1", "HF-TEE-ORG-WHT-M", "24.99")], order="1101", email=EMAIL),
    )
    actions.receive_unit(ret.units.get(), user=role_users["warehouse"])
    said = [line.text for line in cx.get(f"/cx/returns/{ret.pk}/").context["view"].sentences]
    assert said[0].startswith("Loop Returns reported: return opened with")
    assert "warehouse-user moved unit HF-TEE-ORG-WHT-M from expected to received." in said
    assert all(text.endswith(".") for text in said)
    assert timeline.VERBS["platform_return_opened"] == "reported"


def test_the_exchange_shows_its_khaos_order_status(client, cx, workspace):
    ret = apply(
        workspace.connections["loop"],
        loop_5002_exchange(),
    )
    before = page_text(cx.get(f"/cx/returns/{ret.pk}/"))
    assert "LOOP-5002-X: Ready for Khaos" in before
    assert "No status from Khaos yet" in before

    assert client.get("/khaos/hf/orders", **khaos_basic()).status_code == 200
    pushed = client.post(
        "/khaos/hf/order-status?format=json",
        fixture_bytes("khaos/order_status_upload.json"),
        content_type="application/json",
        **khaos_basic(),
    )
    assert pushed.status_code == 200, pushed.content

    response = cx.get(f"/cx/returns/{ret.pk}/")
    (shown,) = response.context["view"].exchanges
    assert shown.request.order_status == "Received"
    text = page_text(response)
    assert "HF-KNT-MCR-NVY-L" in text and "59.00 GBP" in text
    assert "LOOP-5002-X: Confirmed (SO02131)" in text
    assert re.search(r"Order status from Khaos.*Received", text)
    assert any("is Received" in line.text for line in response.context["view"].sentences)


def test_a_team_without_postings_sees_the_status_but_not_the_documents(client, role_users):
    ret = cx_return()
    factories.PostingFactory(return_ref=ret, associated_ref=f"{ret.associated_ref}-R")
    client.force_login(role_users["warehouse"])
    text = page_text(client.get(f"/cx/returns/{ret.pk}/"))
    assert "Khaos document" not in text and "Khaos order" not in text


def test_what_holds_it_says_who_owns_it(cx, role_users, workspace):
    ret = held_for_address(workspace)
    factories.ExceptionCaseFactory(
        return_ref=ret, kind="value_mismatch", owner="finance", assignee=role_users["finance"]
    )
    response = cx.get(f"/cx/returns/{ret.pk}/")
    holds = response.context["view"].holds
    assert [(h.kind, h.owner) for h in holds] == [
        ("Incomplete address", "Customer experience"),
        ("Value mismatch", "Finance"),
    ]
    text = page_text(response)
    assert "owned by Customer experience" in text
    assert "Khaos needs an invoice address and a name" in text
    assert "finance-user is on it" in text
    assert "Khaos document RB-AD1: Held by an exception" in text


# --- the customer's row -------------------------------------------------------------------


def test_the_row_form_is_prefilled_from_the_platform(cx, workspace):
    ret = held_for_address(workspace)
    form = cx.get(f"/cx/returns/{ret.pk}/").context["form"]
    values = {name: form[name].value() for name in ("urn", "name", "line1", "town", "country")}
    assert values == {
        "urn": "WEBGUEST",
        "name": "",
        "line1": "4 Kiln Row",
        "town": "",
        "country": "GB",
    }
    assert form["postcode"].value() == "YO21 3AA"


def test_an_existing_row_keeps_its_values_and_fills_only_its_gaps(cx, workspace):
    CustomerMapping.objects.create(email=EMAIL, urn="WEB500", town="Whitby")
    ret = held_for_address(workspace)
    form = cx.get(f"/cx/returns/{ret.pk}/").context["form"]
    assert (form["urn"].value(), form["town"].value(), form["line1"].value()) == (
        "WEB500",
        "Whitby",
        "4 Kiln Row",
    )


def test_saving_the_row_clears_incomplete_address_and_moves_the_return_on(cx, workspace):
    ret = held_for_address(workspace)
    (case,) = ExceptionCase.objects.filter(return_ref=ret, status="open")
    assert case.kind == "incomplete_address"
    posting = ret.postings.get()
    assert posting.state == "held"

    response = cx.post(
        f"/cx/returns/{ret.pk}/customer/",
        {
            "urn": "WEBGUEST",
            "name": "Nora Quinn",
            "line1": "4 Kiln Row",
            "town": "Whitby",
            "postcode": "YO21 3AA",
            "country": "GB",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/cx/returns/{ret.pk}/"

    case.refresh_from_db()
    posting.refresh_from_db()
    assert case.status == "resolved"
    assert posting.state == "ready"
    assert Posting.objects.get(associated_ref="RB-AD1").payload["InvoiceAddress"]["Town"] == (
        "Whitby"
    )
    row = CustomerMapping.objects.get(email=EMAIL)
    assert (row.urn, row.name, row.town) == ("WEBGUEST", "Nora Quinn", "Whitby")
    assert row.history.count() == 1  # saved through the model, audited like the admin's

    page = cx.get(response["Location"])
    text = page_text(page)
    assert "Customer row saved. Nothing holds the return now." in text
    assert "Nothing holds this return." in text
    assert "Khaos document RB-AD1: Ready for Khaos" in text
    said = [line.text for line in page.context["view"].sentences]
    assert f"cx-user saved the customer's address row: customer row for {EMAIL} added." in said
    assert (
        "After cx-user's action, the hub closed a problem: incomplete address resolved: its "
        "cause has gone." in said
    )


def test_a_row_that_would_still_leave_the_address_incomplete_is_refused(cx, workspace):
    ret = held_for_address(workspace)
    response = cx.post(
        f"/cx/returns/{ret.pk}/customer/",
        {"urn": "WEBGUEST", "name": "", "line1": "4 Kiln Row", "town": "", "country": "GB"},
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert set(form.errors) == {"town", "name"}
    text = page_text(response)
    assert "The row was not saved" in text
    assert "Khaos needs this: the return has no town without it." in text
    assert not CustomerMapping.objects.filter(email=EMAIL).exists()
    assert ret.postings.get().state == "held"


def test_the_rows_own_checks_apply(cx, workspace):
    ret = held_for_address(workspace)
    response = cx.post(
        f"/cx/returns/{ret.pk}/customer/",
        {
            "urn": "",
            "name": "Nora Quinn",
            "line1": "4 Kiln\nRow",
            "town": "Whitby",
            "country": "GB",
        },
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "urn" in errors and "line1" in errors
    assert "Control characters are not allowed" in " ".join(errors["line1"])
    assert not CustomerMapping.objects.filter(email=EMAIL).exists()


def test_an_htmx_save_swaps_the_form_with_its_errors_or_redirects(cx, workspace):
    ret = held_for_address(workspace)
    url = f"/cx/returns/{ret.pk}/customer/"
    bad = cx.post(url, {"urn": "WEBGUEST"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and 'id="customer-row"' in bad.content.decode()
    good = cx.post(
        url,
        {"urn": "WEBGUEST", "name": "Nora Quinn", "line1": "4 Kiln Row", "town": "Whitby"}
        | {"country": "GB"},
        HTTP_HX_REQUEST="true",
    )
    assert good.status_code == 204 and good["HX-Redirect"] == f"/cx/returns/{ret.pk}/"


def test_a_return_without_an_email_has_no_row_to_edit(cx):
    ret = cx_return(customer_email="")
    response = cx.get(f"/cx/returns/{ret.pk}/")
    assert response.context["form"] is None
    assert "no customer row applies" in page_text(response)
    assert cx.post(f"/cx/returns/{ret.pk}/customer/", {"urn": "X"}).status_code == 302
    assert not CustomerMapping.objects.exists()


def test_the_form_posts_with_csrf(client, role_users, workspace):
    from django.test import Client

    ret = held_for_address(workspace)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(role_users["cx"])
    response = strict.post(f"/cx/returns/{ret.pk}/customer/", {"urn": "WEBGUEST"})
    assert response.status_code == 403
    page = strict.get(f"/cx/returns/{ret.pk}/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_return_view_costs_the_same_queries_for_1_or_30_of_everything(cx, workspace):
    def build(n: int):
        ret = cx_return(connection=workspace.connections["loop"], customer_email=f"q{n}@x.com")
        for i in range(n):
            item = factories.ReturnUnitFactory(return_ref=ret)
            factories.TimelineEntryFactory(
                return_ref=ret,
                unit=item,
                kind="unit_state_changed",
                from_state="expected",
                to_state="in_transit",
            )
            factories.ExceptionCaseFactory(return_ref=ret, kind="unknown_sku", owner="data")
            request = ret.exchanges.create(external_id=f"x{i}", sequence=i + 1, platform_sku="S")
            factories.PostingFactory(
                return_ref=ret,
                kind="exchange_order",
                exchange=request,
                associated_ref=f"{ret.associated_ref}-X{i}",
            )
        CustomerMapping.objects.create(email=f"q{n}@x.com", urn="WEB1")
        return ret

    one, thirty = build(1), build(30)
    assert _queries(cx, f"/cx/returns/{one.pk}/") == _queries(cx, f"/cx/returns/{thirty.pk}/")


def test_every_page_is_free_of_inline_styles_and_scripts(cx, workspace):
    ret = held_for_address(workspace)
    for url in ("/cx/", f"/cx/?q={EMAIL}", f"/cx/returns/{ret.pk}/"):
        response = cx.get(url, follow=True)
        html = response.content.decode()
        assert " style=" not in html and "<style" not in html, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert " hx-on" not in html and "onclick" not in html, url
        assert "css/cx.css" in html


def test_the_screen_urls_are_named(workspace):
    assert reverse("cx:index") == "/cx/"
    assert reverse("cx:return", args=[3]) == "/cx/returns/3/"
    assert reverse("cx:customer-row", args=[3]) == "/cx/returns/3/customer/"
