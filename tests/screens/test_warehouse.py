"""/warehouse/: expected goods-in, the scan box, a return's goods-in card (receive, grade)
and a pallet's check list. Who may use them, what a scan finds, what the actions do
through the services, what they refuse, and what each page costs in queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from returns_hub.choices import ExceptionKind, UnitState
from returns_hub.models import (
    ExceptionCase,
    InboundShipment,
    KhaosProduct,
    Return,
    ReturnUnit,
    TimelineEntry,
)
from returns_hub.services import actions
from tests import factories
from tests.engine_events import HR_ID, apply, hr_1011, refunded, shipment

pytestmark = pytest.mark.django_db

PALLET = "PAL-0042"
LABEL = "1Z999AA10123456784"
ALLOWED = {"warehouse": True, "admin": True, "finance": False, "cx": False, "data": False}
ROLES = [*ALLOWED, "nobody"]


# --- small builders -------------------------------------------------------------------


def hr_on_a_pallet(workspace, *, pallet: str = PALLET) -> Return:
    """The fixtures' Happy Returns return 1011: two units (a boot by SKU, a scarf by barcode
    only) on ``pallet``, refunded before they arrived, its label's tracking known. Graded
    sellable, it posts to Khaos at once (the refund is its expected credit)."""
    connection = workspace.connections["happy-returns"]
    apply(connection, hr_1011(), shipment(HR_ID, pallet, "a1d4", "e58b"), refunded(HR_ID, "142.00"))
    ret = Return.objects.get(connection=connection, external_id=HR_ID)
    Return.objects.filter(pk=ret.pk).update(label_tracking=LABEL, label_carrier="UPS")
    ret.refresh_from_db()
    return ret


def light_return(*, units: int = 1, pallet: str = "", connection=None, **fields) -> Return:
    """A return without the workspace (no mappings): for permissions and query counts."""
    connection = connection or factories.PlatformConnectionFactory(platform="loop", slug="wh-loop")
    ret = factories.ReturnFactory(connection=connection, **fields)
    shipment = None
    if pallet:
        shipment, _ = InboundShipment.objects.get_or_create(connection=connection, reference=pallet)
    for _ in range(units):
        factories.ReturnUnitFactory(return_ref=ret, state=UnitState.IN_TRANSIT, shipment=shipment)
    return ret


def unit_urls(ret: Return) -> tuple[str, str]:
    unit = ret.units.order_by("pk").first()
    base = f"/warehouse/returns/{ret.pk}/units/{unit.pk}"
    return f"{base}/receive/", f"{base}/grade/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def autofocused(response) -> list[str]:
    """The tags that carry ``autofocus`` (one per page, where the keyboard starts)."""
    return re.findall(r"<(?:input|button)[^>]*\bautofocus\b[^>]*>", response.content.decode())


@pytest.fixture
def warehouse(client, role_users):
    client.force_login(role_users["warehouse"])
    return client


@pytest.fixture
def hr(workspace):
    return hr_on_a_pallet(workspace)


# --- who may use it -------------------------------------------------------------------


def _pages(ret: Return) -> list[str]:
    return [
        "/warehouse/",
        "/warehouse/?state=in_transit&pallet=P-1",
        "/warehouse/scan/?code=nothing-here",
        f"/warehouse/returns/{ret.pk}/",
        "/warehouse/pallets/P-1/",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_only_the_warehouse_and_admins_see_the_warehouse_screens(client, role_users, role):
    ret = light_return(pallet="P-1")
    client.force_login(role_users[role])
    for url in _pages(ret):
        assert client.get(url).status_code == (200 if ALLOWED.get(role) else 403), url


def test_anyone_not_logged_in_is_sent_to_log_in(client, db):
    ret = light_return(pallet="P-1")
    receive, grade = unit_urls(ret)
    for url in _pages(ret):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/warehouse/")
    for url in (receive, grade):
        response = client.post(url, {"grade": "1"})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert set(ret.units.values_list("state", flat=True)) == {UnitState.IN_TRANSIT}


@pytest.mark.parametrize("role", ROLES)
def test_only_the_warehouse_and_admins_receive_and_grade(client, role_users, workspace, role):
    ret = hr_on_a_pallet(workspace)
    receive, grade = unit_urls(ret)
    client.force_login(role_users[role])
    allowed = ALLOWED.get(role, False)
    assert client.post(receive).status_code == (302 if allowed else 403)
    assert client.post(grade, {"grade": "1"}).status_code == (302 if allowed else 403)
    unit = ret.units.order_by("pk").first()
    assert unit.state == (UnitState.GRADED if allowed else UnitState.IN_TRANSIT)


def test_actions_take_posts_only_and_need_the_csrf_token(role_users, workspace):
    from django.test import Client

    ret = hr_on_a_pallet(workspace)
    receive, _ = unit_urls(ret)
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["warehouse"])
    assert client.get(receive).status_code == 405
    assert client.post(receive).status_code == 403  # no token
    assert ret.units.order_by("pk").first().state == UnitState.IN_TRANSIT


def test_a_unit_of_another_return_or_no_unit_is_404(warehouse, hr):
    other = light_return()
    unit = hr.units.first()
    assert (
        warehouse.post(f"/warehouse/returns/{other.pk}/units/{unit.pk}/receive/").status_code == 404
    )
    assert warehouse.post(f"/warehouse/returns/{hr.pk}/units/999999999/receive/").status_code == 404
    assert warehouse.get("/warehouse/returns/999999999/").status_code == 404
    assert warehouse.get("/warehouse/returns/99999999999999999999999/").status_code == 404
    assert warehouse.get("/warehouse/pallets/NO-SUCH-PALLET/").status_code == 404


# --- expected goods-in ----------------------------------------------------------------


def test_expected_goods_in_lists_units_to_come_newest_first(warehouse, hr):
    older = light_return(order_ref="2001")
    graded = light_return(order_ref="2002")
    graded.units.update(state=UnitState.GRADED)
    response = warehouse.get("/warehouse/")
    assert response.status_code == 200
    rows = list(response.context["table"].data)
    assert [u.return_ref_id for u in rows] == [older.pk, hr.pk, hr.pk]  # newest unit first
    assert all(u.state in (UnitState.EXPECTED, UnitState.IN_TRANSIT) for u in rows)
    html = response.content.decode()
    assert f'href="/warehouse/returns/{hr.pk}/"' in html
    assert f'href="/warehouse/pallets/{PALLET}/"' in html
    assert "Happy Returns" in html
    assert autofocused(response) and 'id="scan-code"' in autofocused(response)[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("platform=happy-returns", {"hr"}),
        ("platform=loop", {"loop", "expected"}),
        ("connection=hf-happy-returns", {"hr"}),
        (f"pallet={PALLET}", {"hr"}),
        ("pallet=NONE", set()),
        ("state=in_transit", {"hr", "loop"}),
        ("state=expected", {"expected"}),
        ("order=%231011", {"hr"}),  # "#1011": the order number's # is dropped, as in the API
        ("order=3001", {"loop"}),
    ],
)
def test_expected_goods_in_filters(warehouse, hr, query, expected):
    loop = light_return(order_ref="3001")
    waiting = light_return(order_ref="3002")
    waiting.units.update(state=UnitState.EXPECTED)
    names = {hr.pk: "hr", loop.pk: "loop", waiting.pk: "expected"}
    response = warehouse.get(f"/warehouse/?{query}")
    assert response.status_code == 200
    assert {names[u.return_ref_id] for u in response.context["table"].data} == expected


@pytest.mark.parametrize("query", ["state=graded", "platform=ebay", "after=nonsense~1", "after=x"])
def test_a_filter_it_cannot_use_is_400_not_500(warehouse, db, query):
    assert warehouse.get(f"/warehouse/?{query}").status_code == 400


def test_expected_goods_in_pages_by_keyset(warehouse, db):
    connection = factories.PlatformConnectionFactory(platform="loop", slug="wh-loop")
    for _ in range(55):
        light_return(connection=connection)
    first = warehouse.get("/warehouse/")
    rows = list(first.context["table"].data)
    assert len(rows) == 50
    next_url = first.context["next_url"]
    assert next_url.startswith("?after=")
    second = warehouse.get(f"/warehouse/{next_url}")
    more = list(second.context["table"].data)
    assert len(more) == 5 and not second.context["next_url"]
    assert min(u.pk for u in rows) > max(u.pk for u in more)


def test_units_not_arrived_are_counted_and_listed_with_a_link_to_the_queue(warehouse, hr):
    ExceptionCase.objects.create(
        kind=ExceptionKind.UNITS_NOT_ARRIVED,
        cause_key=f"units_not_arrived:{hr.pk}",
        return_ref=hr,
        message="2 units refunded 22 days ago have not arrived.",
    )
    factories.ExceptionCaseFactory(kind="unknown_sku")  # another team's: not counted
    response = warehouse.get("/warehouse/")
    html = response.content.decode()
    assert response.context["not_arrived_count"] == 1
    assert '<a href="/exceptions/?kind=units_not_arrived&amp;owner=warehouse">1 open</a>' in html
    assert "have not arrived" in html and f'href="/warehouse/returns/{hr.pk}/"' in html


# --- the scan box ---------------------------------------------------------------------


def _scan(client, code):
    return client.get("/warehouse/scan/", {"code": code})


def _opens_card(response, ret) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        f"/warehouse/returns/{ret.pk}/?scanned="
    )


def test_a_scan_finds_a_return_by_every_kind_of_code(warehouse, hr):
    boot, scarf = hr.units.order_by("pk")
    codes = {
        "label barcode": LABEL,
        "platform return id": hr.external_id,
        "AssociatedRef": hr.associated_ref,
        "AssociatedRef typed in lower case": hr.associated_ref.lower(),
        "hub return number": str(hr.pk),
        "order number": "1011",
        "order number with #": "#1011",
        "SKU": boot.platform_sku,
        "unit barcode": scarf.barcode,
        "Khaos Stock Code": scarf.product.stock_code,
        "with spaces around": f"  {LABEL}  ",
    }
    for kind, code in codes.items():
        assert _opens_card(_scan(warehouse, code), hr), kind


def test_a_scanned_item_gets_the_focus_on_its_card(warehouse, hr):
    _boot, scarf = hr.units.order_by("pk")
    response = warehouse.get(_scan(warehouse, scarf.barcode)["Location"])
    card = response.context["card"]
    assert [row.current for row in card.rows] == [False, True]
    assert (
        f'action="/warehouse/returns/{hr.pk}/units/{scarf.pk}/receive/"'
        in response.content.decode()
    )
    assert "Received" in autofocused(response)[0] or 'accesskey="r"' in autofocused(response)[0]


def test_a_scan_finds_a_pallet(warehouse, hr):
    response = _scan(warehouse, PALLET)
    assert response.status_code == 302 and response["Location"] == f"/warehouse/pallets/{PALLET}/"


def test_a_code_of_several_returns_lists_them(warehouse, hr):
    twin = light_return(order_ref="1011", associated_ref="LOOP-TWIN")
    response = _scan(warehouse, "1011")
    assert response.status_code == 200
    assert [r.pk for r in response.context["result"].returns] == [twin.pk, hr.pk]
    html = response.content.decode()
    assert f'href="/warehouse/returns/{twin.pk}/?scanned=1011"' in html
    assert 'id="scan-code"' in autofocused(response)[0]


def test_an_unknown_code_says_so_and_the_box_has_the_focus(warehouse, hr):
    response = _scan(warehouse, "NO-SUCH-THING")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing matches “NO-SUCH-THING”" in html
    assert 'role="alert"' in html
    (focus,) = autofocused(response)
    assert 'id="scan-code"' in focus and "value=" not in focus  # empty, ready for the next


def test_a_sku_finds_only_returns_still_waiting_for_it(warehouse, hr):
    done = light_return(order_ref="4001")
    done.units.update(state=UnitState.GRADED, platform_sku="HF-FTW-CHL-BRN-08")
    assert _opens_card(_scan(warehouse, "HF-FTW-CHL-BRN-08"), hr)


@pytest.mark.parametrize("code", ["", "   ", "x" * 101, "bad\x00code"])
def test_a_scan_that_is_no_code_is_400_with_the_box_ready(warehouse, db, code):
    response = _scan(warehouse, code)
    assert response.status_code == 400
    assert 'id="scan-code"' in autofocused(response)[0]


def test_a_scan_costs_the_same_queries_whatever_it_finds(warehouse, hr):
    counts = {
        code: _queries(warehouse, f"/warehouse/scan/?code={code}", status=None)
        for code in ("1011", LABEL, "NOTHING", PALLET)
    }
    assert len(set(counts.values())) == 1, counts


# --- the goods-in card: receive and grade through the services ------------------------


def test_the_card_offers_the_platforms_grades_numbered_restock_first(warehouse, hr):
    response = warehouse.get(f"/warehouse/returns/{hr.pk}/")
    grades = response.context["card"].grades
    assert [(g.number, g.code) for g in grades] == [
        (1, "sellable"),
        (2, "wrong-item"),
        (3, "damaged"),
        (4, "missing"),
    ]
    html = response.content.decode()
    assert html.count('accesskey="1"') == 1  # the current unit's shortcuts only
    assert html.count('accesskey="r"') == 1
    assert 'style="' not in html and "<script" not in html.split("</head>")[1]


def test_receive_then_grade_by_number_moves_the_unit_and_the_focus(warehouse, hr, role_users):
    boot, scarf = hr.units.order_by("pk")
    receive = f"/warehouse/returns/{hr.pk}/units/{boot.pk}/receive/"
    response = warehouse.post(receive, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.templates[0].name == "returns_hub/warehouse/_card.html"
    boot.refresh_from_db()
    assert boot.state == UnitState.RECEIVED and boot.received_at is not None
    assert f"{boot.platform_sku} received." in response.content.decode()
    (focus,) = autofocused(response)
    assert f'id="grade-{boot.pk}"' in focus  # next: its grade

    response = warehouse.post(
        f"/warehouse/returns/{hr.pk}/units/{boot.pk}/grade/", {"grade": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    boot.refresh_from_db()
    assert (boot.state, boot.disposition, boot.graded_by) == (
        UnitState.GRADED,
        "sellable",
        role_users["warehouse"],
    )
    assert "graded sellable (restock)" in response.content.decode()
    (focus,) = autofocused(response)
    assert f"/units/{scarf.pk}/receive/" in response.content.decode()
    assert 'accesskey="r"' in focus  # next: the scarf's Received button

    lines = TimelineEntry.objects.filter(return_ref=hr, unit=boot, actor=role_users["warehouse"])
    assert {(e.from_state, e.to_state) for e in lines if e.to_state} == {
        ("in_transit", "received"),
        ("received", "graded"),
    }
    assert lines.filter(kind="graded_by_user", message__contains="'sellable'").exists()


def test_grading_every_unit_posts_the_return(warehouse, hr):
    boot, scarf = hr.units.order_by("pk")
    # a code, and a numbered button (which sends the disposition itself), any case
    warehouse.post(f"/warehouse/returns/{hr.pk}/units/{boot.pk}/grade/", {"grade": "SELLABLE"})
    warehouse.post(
        f"/warehouse/returns/{hr.pk}/units/{scarf.pk}/grade/",
        {"disposition": "sellable", "grade": "", "condition": "tags on"},
    )
    scarf.refresh_from_db()
    assert (scarf.disposition, scarf.condition) == ("sellable", "tags on")
    assert scarf.received_at is not None  # a graded unit has arrived
    hr.refresh_from_db()
    assert hr.state == "graded"
    assert list(hr.postings.values_list("state", flat=True)) == ["ready"]
    response = warehouse.get(f"/warehouse/returns/{hr.pk}/")
    assert response.context["card"].done
    (focus,) = autofocused(response)
    assert 'id="scan-code"' in focus  # all done: back to the scan box


def test_without_javascript_an_action_comes_back_to_the_card_with_its_message(warehouse, hr):
    boot = hr.units.order_by("pk").first()
    response = warehouse.post(f"/warehouse/returns/{hr.pk}/units/{boot.pk}/receive/", follow=True)
    assert response.redirect_chain == [(f"/warehouse/returns/{hr.pk}/", 302)]
    assert f"{boot.platform_sku} received." in messages_of(response)
    assert response.content.decode().count(f"{boot.platform_sku} received.") == 1


def test_receiving_twice_is_harmless(warehouse, hr):
    boot = hr.units.order_by("pk").first()
    url = f"/warehouse/returns/{hr.pk}/units/{boot.pk}/receive/"
    warehouse.post(url)
    before = TimelineEntry.objects.filter(return_ref=hr).count()
    warehouse.post(url)
    assert TimelineEntry.objects.filter(return_ref=hr).count() == before


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("7", "“7” is not a grade here: type a number from 1 to 4"),
        ("0", "“0” is not a grade here"),
        ("back_to_stock", "is not a grade here"),  # Loop's code, not Happy Returns'
        ("", "number or code, then Enter"),
        ("x" * 101, "at most 100 characters"),
    ],
)
def test_a_grade_that_is_not_offered_is_refused_with_a_message(warehouse, hr, typed, why):
    boot = hr.units.order_by("pk").first()
    url = f"/warehouse/returns/{hr.pk}/units/{boot.pk}/grade/"
    response = warehouse.post(url, {"grade": typed}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422  # htmx swaps it in (base.html's responseHandling)
    assert why in response.content.decode()
    boot.refresh_from_db()
    assert boot.state == UnitState.IN_TRANSIT and boot.disposition == ""


def test_a_grade_after_the_return_posted_is_refused_with_the_services_reason(warehouse, hr):
    boot, scarf = hr.units.order_by("pk")
    for unit in (boot, scarf):
        actions.grade_unit(unit, "sellable", user=None)
    url = f"/warehouse/returns/{hr.pk}/units/{boot.pk}/grade/"
    response = warehouse.post(url, {"grade": "3"}, follow=True)
    assert response.status_code == 200
    (message,) = messages_of(response)
    assert "not graded" in message and "has already posted to Khaos" in message
    boot.refresh_from_db()
    assert boot.disposition == "sellable"
    htmx = warehouse.post(url, {"grade": "3"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 422 and "already posted to Khaos" in htmx.content.decode()


def test_receiving_a_cancelled_unit_is_refused_with_a_message(warehouse, hr):
    boot = hr.units.order_by("pk").first()
    ReturnUnit.objects.filter(pk=boot.pk).update(state=UnitState.CANCELLED)
    response = warehouse.post(
        f"/warehouse/returns/{hr.pk}/units/{boot.pk}/receive/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert "cannot be received" in response.content.decode()
    boot.refresh_from_db()
    assert boot.state == UnitState.CANCELLED


def test_a_platform_without_grades_says_who_adds_them(warehouse, db):
    ret = light_return()
    response = warehouse.get(f"/warehouse/returns/{ret.pk}/")
    assert "No grades are mapped for Loop" in response.content.decode()
    _receive, grade = unit_urls(ret)
    response = warehouse.post(grade, {"grade": "1"}, follow=True)
    assert "no grades are mapped for this platform" in messages_of(response)[0]


# --- the pallet view ------------------------------------------------------------------


def test_the_pallet_checks_units_off_and_shows_what_is_missing(warehouse, hr):
    boot, scarf = hr.units.order_by("pk")
    actions.receive_unit(boot, user=None)
    response = warehouse.get(f"/warehouse/pallets/{PALLET}/")
    assert response.status_code == 200
    assert response.context["counts"] == {
        "expected": 2,
        "received": 1,
        "missing": 1,
        "not_coming": 0,
    }
    html = response.content.decode()
    assert f'data-unit="{boot.pk}" data-state="received"' in html
    assert '✓<span class="visually-hidden"> received' in html
    assert '✗<span class="visually-hidden"> missing' in html

    missing = warehouse.get(f"/warehouse/pallets/{PALLET}/?checked=missing")
    assert [u.pk for u in missing.context["table"].data] == [scarf.pk]
    arrived = warehouse.get(f"/warehouse/pallets/{PALLET}/?checked=arrived")
    assert [u.pk for u in arrived.context["table"].data] == [boot.pk]
    assert warehouse.get(f"/warehouse/pallets/{PALLET}/?checked=lost").status_code == 400


# --- what each page costs -------------------------------------------------------------


def _queries(client, url, status=200) -> int:
    client.get(url)  # warm: session and permissions are read the same way every time
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if status is not None:
        assert response.status_code == status
    return len(captured)


def _many(count: int) -> Return:
    """``count`` returns on one pallet, each with a unit, and a not-arrived case for each;
    the last return also holds ``count`` units."""
    connection = factories.PlatformConnectionFactory(platform="loop", slug="wh-loop")
    product, _ = KhaosProduct.objects.get_or_create(stock_id="1", stock_code="HF-Q")
    ret = None
    for _ in range(count):
        ret = light_return(connection=connection, pallet="P-Q")
        ExceptionCase.objects.create(
            kind=ExceptionKind.UNITS_NOT_ARRIVED,
            cause_key=f"units_not_arrived:{ret.pk}",
            return_ref=ret,
            message="not here",
        )
        factories.TimelineEntryFactory(return_ref=ret)
    for _ in range(count - 1):
        factories.ReturnUnitFactory(return_ref=ret, state=UnitState.RECEIVED, product=product)
    return ret


@pytest.mark.parametrize("page", ["index", "filtered", "pallet", "card"])
def test_each_page_costs_the_same_queries_for_1_or_30_rows(
    client, role_users, page, django_assert_num_queries
):
    fixed = {"index": 7, "filtered": 7, "pallet": 7, "card": 9}
    counts = []
    for count in (1, 30):
        ExceptionCase.objects.all().delete()
        Return.objects.all().delete()
        InboundShipment.objects.all().delete()
        ret = _many(count)
        url = {
            "index": "/warehouse/",
            "filtered": "/warehouse/?platform=loop&connection=wh-loop&pallet=P-Q&state=in_transit",
            "pallet": "/warehouse/pallets/P-Q/",
            "card": f"/warehouse/returns/{ret.pk}/",
        }[page]
        client.force_login(role_users["warehouse"])
        client.get(url)
        with django_assert_num_queries(fixed[page]):
            assert client.get(url).status_code == 200
        counts.append(count)
    assert counts == [1, 30]


def test_the_not_arrived_list_is_cut_short_but_counted(warehouse, db):
    _many(12)
    response = warehouse.get("/warehouse/")
    assert response.context["not_arrived_count"] == 12
    assert len(response.context["not_arrived"]) == 10
    assert "All 12 in the exceptions queue" in response.content.decode()
    assert timezone.now() - response.context["not_arrived"][0].created_at < timedelta(minutes=5)
