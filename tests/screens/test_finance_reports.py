"""/finance/: the period and day views, the lists behind every figure, and the chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reconciliation import charts
from reconciliation.models import Acceptance, CreditNote
from reconciliation.services import differences
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.services.differences import Period
from returns_hub.choices import (
    MoneyState,
)
from tests import factories
from tests.reconciliation.hub import MARCH, Hub, at, build_march, refund

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
SCREENS = [
    "/finance/",
    "/finance/periods/2025-03/",
    "/finance/days/2025-03-11/",
    "/finance/differences/?period=2025-03",
    "/finance/returns/?period=2025-03",
    "/finance/postings/?period=2025-03",
    "/finance/credit-notes/?period=2025-03",
]


@pytest.fixture
def hub(role_users):
    return build_march(role_users["finance"], backdate=True)


@pytest.fixture
def finance(client, role_users):
    client.force_login(role_users["finance"])
    return client


# --- who may see it -------------------------------------------------------------------


@pytest.mark.parametrize("url", SCREENS)
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("finance", 200),
        ("admin", 200),
        ("warehouse", 403),
        ("cx", 403),
        ("data", 403),
        ("nobody", 403),
    ],
)
def test_only_finance_and_admins_see_the_finance_screens(client, role_users, url, role, status):
    client.force_login(role_users[role])
    assert client.get(url).status_code == status


@pytest.mark.parametrize("url", SCREENS)
def test_anyone_not_logged_in_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/finance/")


def test_the_finance_link_shows_to_those_who_may_follow_it(client, role_users):
    client.force_login(role_users["finance"])
    assert b'href="/finance/"' in client.get("/").content
    client.force_login(role_users["warehouse"])
    assert b'href="/finance/"' not in client.get("/").content


@pytest.mark.parametrize(
    "url",
    [
        "/finance/periods/2025-13/",
        "/finance/periods/March/",
        "/finance/days/2025-02-30/",
        "/finance/days/9999-12-31/",
    ],
)
def test_a_span_that_is_not_one_is_404(finance, url):
    assert finance.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/finance/periods/0001-01/", "/finance/days/9998-12-31/"])
def test_the_first_and_last_spans_have_no_link_beyond(finance, url):
    assert finance.get(url).status_code == 200


# --- the period view ------------------------------------------------------------------


def _report(response, currency="GBP"):
    (report,) = [r for r in response.context["reports"] if r.currency == currency]
    return report


def _figures(report) -> dict[str, list[Decimal]]:
    return {row.label: [cell.value for cell in row.cells] for row in report.figure_rows}


def test_finance_opens_on_this_month(finance):
    response = finance.get("/finance/")
    today = timezone.localdate()
    assert response.context["span"] == Period.parse(f"{today:%Y-%m}")
    assert f"Reconciliation: {today:%B %Y}" in response.content.decode()


def test_the_fixture_month_shows_each_cause_and_figure(hub, finance):
    response = finance.get("/finance/periods/2025-03/")
    assert response.status_code == 200
    report = _report(response)
    causes = {row.cause: (row.open_count.value, row.open_amount.value) for row in report.by_cause}
    assert causes == {
        C.REFUNDED_NOT_GRADED: (1, Decimal("141.99")),
        C.REFUND_WITHOUT_RETURN: (1, Decimal("30.00")),
        C.POSTED_NOT_CONFIRMED: (2, Decimal("185.65")),
        C.REFUND_DIFFERS: (1, Decimal("22.35")),
        C.CREDIT_NOTE_DIFFERS: (1, Decimal("-5.00")),
        C.RAISED_BY_HAND: (1, Decimal("15.00")),
        C.STORE_CREDIT_OUTSTANDING: (1, Decimal("67.00")),
        C.HANDLED_OUTSIDE: (1, Decimal("48.15")),
    }
    by_platform = {(row.label, row.cause): row.open_amount.value for row in report.by_platform}
    assert by_platform[("ReBound Returns", C.CREDIT_NOTE_DIFFERS)] == Decimal("-5.00")
    assert by_platform[("None (raised in Khaos)", C.RAISED_BY_HAND)] == Decimal("15.00")
    figures = _figures(report)
    # platform refunds, store credit, expected credit, posted, confirmed
    assert figures["Loop Returns"] == [
        Decimal("248.98"),
        Decimal("0.00"),
        Decimal("285.63"),
        Decimal("285.63"),
        Decimal("99.98"),
    ]
    assert figures["ReBound Returns"][3:] == [Decimal("299.00"), Decimal("294.00")]
    assert figures["Swap Commerce"][1] == Decimal("67.00")
    html = response.content.decode()
    assert "-5.00" in html
    assert 'class="num neg"' in html
    assert "Raised by hand" in html or "raised by hand" in html


def test_the_totals_foot_to_the_penny(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/"))
    columns = list(
        zip(*[[cell.value for cell in row.cells] for row in report.figure_rows], strict=True)
    )
    assert [cell.value for cell in report.figure_total.cells] == [sum(c) for c in columns]
    for part in ("open_count", "open_amount", "accepted_count", "accepted_amount"):
        shown = [getattr(row, part).value for row in report.by_cause]
        assert getattr(report.cause_total, part).value == sum(shown)
        for row in report.by_cause:
            detail = [getattr(r, part).value for r in report.by_platform if r.cause == row.cause]
            assert getattr(row, part).value == sum(detail)
    # And the same on the page as printed: every total cell is the sum of its column.
    for table in _tables(finance.get("/finance/periods/2025-03/").content.decode()):
        if "figures" not in table["class"] and "causes" not in table["class"]:
            continue
        for index in range(2 if "causes" in table["class"] else 1, len(table["total"])):
            column = [_number(row[index]) for row in table["body"]]
            assert _number(table["total"][index]) == sum(column), (table["class"], index)


def test_the_totals_agree_with_the_service(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/"))
    service = [t for t in differences.totals(MARCH) if t.currency == "GBP"]
    assert report.figure_total.cells[0].value == sum(t.platform_refunds for t in service)
    assert report.cause_total.open_amount.value == sum(c.amount for t in service for c in t.causes)


def test_accepted_differences_are_counted_apart(hub, finance):
    note = CreditNote.objects.get(code="CN0010486")
    Acceptance.objects.create(
        cause=C.CREDIT_NOTE_DIFFERS,
        object_id=note.pk,
        platform="rebound",
        currency="GBP",
        amount=Decimal("-5.00"),
        accepted_by="finance-user",
        accepted_at=timezone.now(),
        note="Khaos rounded the discount",
    )
    report = _report(finance.get("/finance/periods/2025-03/"))
    row = next(r for r in report.by_cause if r.cause == C.CREDIT_NOTE_DIFFERS)
    assert (row.open_count.value, row.accepted_count.value) == (0, 1)
    assert row.accepted_amount.value == Decimal("-5.00")
    listed = _walk(finance, row.accepted_amount.url)
    assert [r.key for r in listed] == [f"{C.CREDIT_NOTE_DIFFERS}:{note.pk}"]
    page = finance.get(row.accepted_amount.url).content.decode()
    assert "Khaos rounded the discount" in page


def test_previous_and_next_keep_the_filters(hub, finance):
    response = finance.get("/finance/periods/2025-03/?platform=loop")
    assert response.context["previous_url"] == "/finance/periods/2025-02/?platform=loop"
    assert response.context["next_url"] == "/finance/periods/2025-04/?platform=loop"
    january = finance.get("/finance/periods/2025-01/")
    assert january.context["previous_url"] == "/finance/periods/2024-12/"
    day = finance.get("/finance/days/2025-03-01/")
    assert day.context["previous_url"] == "/finance/days/2025-02-28/"
    assert day.context["next_url"] == "/finance/days/2025-03-02/"


def test_the_platform_and_currency_filters_narrow_the_report(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/?platform=rebound"))
    assert [row.label for row in report.figure_rows] == ["ReBound Returns"]
    assert {row.cause for row in report.by_platform} == {C.CREDIT_NOTE_DIFFERS}
    for cell in report.figure_rows[0].cells:
        assert "platform=rebound" in cell.url
    assert finance.get("/finance/periods/2025-03/?currency=eur").context["reports"] == []
    assert finance.get("/finance/periods/2025-03/?currency=euro").status_code == 400
    assert finance.get("/finance/periods/2025-03/?platform=nowhere").status_code == 400


def test_the_day_view(hub, finance):
    response = finance.get("/finance/days/2025-03-11/")
    assert response.status_code == 200
    report = _report(response)
    assert report.chart_url == ""
    # 11 March: CN0010486 (RB-884512, 174.00 against 179.00) and CN0010487 confirmed.
    assert _figures(report)["ReBound Returns"][4] == Decimal("174.00")
    row = next(r for r in report.by_cause if r.cause == C.CREDIT_NOTE_DIFFERS)
    assert (row.open_count.value, row.open_amount.value) == (1, Decimal("-5.00"))
    assert "day=2025-03-11" in row.open_count.url
    assert sum(r.open_count.value for r in report.by_cause) == 1


def test_the_actions_are_offered_where_they_exist(hub, finance):
    html = finance.get("/finance/periods/2025-03/").content.decode()
    for name, text in (("finance:upload-credit-notes", "Upload credit notes"),):
        from django.urls import NoReverseMatch, reverse

        try:
            reverse(name)
        except NoReverseMatch:
            assert text not in html
        else:
            assert text in html


# --- drill-down -----------------------------------------------------------------------


def _walk(client, url) -> list:
    """Every row of a list, following its next links."""
    found = []
    for _ in range(100):
        response = client.get(url)
        assert response.status_code == 200, response.content
        found.extend(response.context["table"].data.data)
        if not response.context["next_url"]:
            return found
        url = response.wsgi_request.path + response.context["next_url"]
    raise AssertionError("more than 100 pages")


# The amount each list's rows add up to, by the list's path.
AMOUNT = {
    "/finance/returns/": "refunded_amount",
    "/finance/postings/": "expected_credit",
    "/finance/credit-notes/": "gross",
    "/finance/differences/": "amount",
}


def _sum(rows, url) -> Decimal:
    name = AMOUNT[urlsplit(url).path]
    return sum((getattr(row, name) for row in rows), Decimal("0.00"))


def test_every_figure_leads_to_rows_that_add_up_to_it(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/"))
    checked = 0
    for row in [*report.figure_rows, report.figure_total]:
        for cell in row.cells:
            if not cell.url:
                # Only the group with no platform (raised by hand) has figures no list
                # selects, and they are nil.
                assert (row.label, cell.value) == ("None (raised in Khaos)", 0)
                continue
            rows = _walk(finance, cell.url)
            assert _sum(rows, cell.url) == cell.value, cell.url
            checked += 1
    assert checked == 5 * len(report.figure_rows)


def test_every_count_leads_to_that_many_rows_adding_up_to_its_amount(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/"))
    for row in [*report.by_cause, *report.by_platform, report.cause_total]:
        for count, amount in (
            (row.open_count, row.open_amount),
            (row.accepted_count, row.accepted_amount),
        ):
            assert count.url == amount.url
            assert count.url, (row.label, row.cause)
            rows = _walk(finance, count.url)
            assert len(rows) == count.value, count.url
            assert sum((r.amount for r in rows), Decimal("0.00")) == amount.value


def test_a_cause_count_opens_the_differences_filtered_to_it(hub, finance):
    report = _report(finance.get("/finance/periods/2025-03/"))
    row = next(r for r in report.by_cause if r.cause == C.CREDIT_NOTE_DIFFERS)
    query = parse_qs(urlsplit(row.open_count.url).query)
    assert query == {
        "period": ["2025-03"],
        "cause": ["credit_note_differs"],
        "currency": ["GBP"],
        "state": ["open"],
    }
    response = finance.get(row.open_count.url)
    html = response.content.decode()
    assert "CN0010486" in html and "-5.00" in html
    form = response.context["filter"].form
    assert form.cleaned_data["cause"] == "credit_note_differs"


def test_each_row_links_to_its_return(hub, finance):
    html = finance.get("/finance/returns/?period=2025-03&platform=loop").content.decode()
    loop_5003 = hub.connections["loop"].returns.get(associated_ref="LOOP-5003")
    assert f"/admin/returns_hub/return/{loop_5003.pk}/change/" in html or (
        f"/returns/{loop_5003.pk}/" in html
    )


# --- the lists: filters, keyset pages, queries ---------------------------------------


def test_the_lists_filter(hub, finance):
    rows = _walk(finance, "/finance/differences/?period=2025-03&owner=warehouse")
    assert [r.cause for r in rows] == [C.REFUNDED_NOT_GRADED]
    rows = _walk(finance, "/finance/differences/?period=2025-03&owner=finance")
    assert C.HANDLED_OUTSIDE in {r.cause for r in rows}  # the ignored case was finance's
    assert C.REFUNDED_NOT_GRADED not in {r.cause for r in rows}
    rows = _walk(finance, "/finance/differences/?period=2025-03&platform=loop")
    assert {r.platform for r in rows} == {"loop"}
    rows = _walk(finance, "/finance/differences/?day=2025-03-25")
    assert [r.associated_ref for r in rows] == ["HR-timing-1014"]
    notes = _walk(finance, "/finance/credit-notes/?period=2025-03&matched=no")
    assert [n.code for n in notes] == ["CN0010488"]
    notes = _walk(finance, "/finance/credit-notes/?associated_ref=RB-884512")
    assert [(n.code, n.difference) for n in notes] == [("CN0010486", Decimal("-5.00"))]
    notes = _walk(finance, "/finance/credit-notes/?period=2025-03&platform=rebound")
    assert {n.code for n in notes} == {"CN0010486", "CN0010489"}
    returns = _walk(finance, "/finance/returns/?period=2025-04")
    assert [r.associated_ref for r in returns] == ["HR-timing-1015"]
    postings = _walk(finance, "/finance/postings/?period=2025-03&figure=posted&state=ready")
    assert [p.associated_ref for p in postings] == ["LOOP-5004"]
    postings = _walk(finance, "/finance/postings/?period=2025-03&figure=expected_credit")
    assert "REV-RVN-1023" in {p.associated_ref for p in postings}  # held, not yet posted


@pytest.mark.parametrize(
    "url",
    [
        "/finance/differences/?cause=nothing",
        "/finance/differences/?state=closed",
        "/finance/differences/?period=2025-13",
        "/finance/returns/?day=2025-02-30",
        "/finance/returns/?day=9999-12-31",
        "/finance/returns/?day=03/12/2025",
        "/finance/postings/?figure=maybe",
        "/finance/credit-notes/?matched=perhaps",
        "/finance/credit-notes/?currency=12",
    ],
)
def test_a_filter_it_cannot_use_is_400_naming_it(finance, url):
    response = finance.get(url)
    assert response.status_code == 400
    assert b"Check the filters" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/finance/differences/?after=nothing:1",
        "/finance/differences/?after=raised_by_hand:x",
        "/finance/returns/?after=yesterday~3",
        "/finance/credit-notes/?after=2025-03-01~x",
    ],
)
def test_a_cursor_that_is_not_one_is_400(finance, url):
    assert finance.get(url).status_code == 400


def _many_returns(hub, count: int, *, day: int = 12):
    connection = hub.connection("loop")
    for number in range(count):
        # Half share one moment: the id breaks the tie, so no row is skipped or repeated.
        moment = at(day) if number % 2 else at(day) + timedelta(minutes=number)
        factories.ReturnFactory(
            connection=connection,
            associated_ref=f"LOOP-9{number:04d}",
            external_id=f"9{number:04d}",
            money_state=MoneyState.REFUNDED,
            refunded_amount=Decimal("1.01"),
            refunded_at=moment,
        )


def test_keyset_pages_walk_every_row_once(finance, role_users):
    hub = Hub(backdate=True)
    _many_returns(hub, 123)
    pages = []
    url = "/finance/returns/?day=2025-03-12"
    while url:
        response = finance.get(url)
        pages.append([r.pk for r in response.context["table"].data.data])
        next_url = response.context["next_url"]
        assert "OFFSET" not in " ".join(q["sql"] for q in connection.queries)
        url = f"/finance/returns/{next_url}" if next_url else ""
    assert [len(page) for page in pages] == [50, 50, 23]
    seen = [pk for page in pages for pk in page]
    assert len(seen) == len(set(seen)) == 123
    refunded = _walk(finance, "/finance/returns/?day=2025-03-12")
    assert sum(r.refunded_amount for r in refunded) == Decimal("124.23")


def test_difference_pages_walk_every_row_once_across_causes(finance, role_users):
    hub = Hub(backdate=True)
    _many_returns(hub, 0)
    for number in range(70):
        CreditNote.objects.create(
            code=f"CN9{number:05d}",
            issued_on=date(2025, 3, 12),
            net=Decimal("1.00"),
            tax=Decimal("0.20"),
            gross=Decimal("1.20"),
            currency="GBP",
        )
    for number in range(20):
        hub.ret(
            "happy-returns",
            f"HR-late-{number}",
            money_state=MoneyState.REFUNDED,
            **refund("2.00", 12),
        )
    pages = []
    url = "/finance/differences/?period=2025-03"
    while url:
        response = finance.get(url)
        pages.append([r.key for r in response.context["table"].data.data])
        url = (
            f"/finance/differences/{response.context['next_url']}"
            if response.context["next_url"]
            else ""
        )
    assert [len(page) for page in pages] == [50, 40]
    seen = [key for page in pages for key in page]
    assert len(seen) == len(set(seen)) == 90
    assert Counter(key.split(":")[0] for key in seen) == {
        C.REFUNDED_NOT_GRADED: 20,
        C.RAISED_BY_HAND: 70,
    }


def _queries(client, url) -> int:
    client.get(url)  # warm: session and permissions are read the same way every time
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _credit_notes(count: int, offset: int = 0):
    hub = Hub(backdate=True)
    for number in range(offset, offset + count):
        posting = hub.posting("loop", f"LOOP-8{number:04d}", "10.00", ready=10)
        note = CreditNote.objects.create(
            code=f"CN8{number:05d}",
            associated_ref=posting.associated_ref,
            issued_on=date(2025, 3, 12),
            net=Decimal("8.00"),
            tax=Decimal("1.00"),
            gross=Decimal("9.00"),
            currency="GBP",
            posting=posting,
            match_method="associated_ref",
            matched_at=timezone.now(),
            expected_credit=Decimal("10.00"),
            difference=Decimal("-1.00"),
        )
        assert note.posting_id
        factories.ReturnFactory(
            connection=hub.connection("loop"),
            associated_ref=f"LOOP-7{number:04d}",
            external_id=f"7{number:04d}",
            refunded_amount=Decimal("3.00"),
            refunded_at=at(12),
        )


LISTS = [
    "/finance/differences/?period=2025-03",
    "/finance/differences/?period=2025-03&state=all",
    "/finance/returns/?period=2025-03",
    "/finance/postings/?period=2025-03",
    "/finance/postings/?period=2025-03&figure=expected_credit",
    "/finance/credit-notes/?period=2025-03",
    "/finance/periods/2025-03/",
    "/finance/days/2025-03-12/",
]


@pytest.mark.parametrize("url", LISTS)
def test_a_page_costs_the_same_queries_for_1_row_or_30(finance, url):
    _credit_notes(1)
    one = _queries(finance, url)
    _credit_notes(29, offset=1)
    thirty = _queries(finance, url)
    assert one == thirty
    table = finance.get(url).context.get("table")
    if table is not None and "state=all" not in url:
        assert len(table.data) >= 30


# --- the chart ------------------------------------------------------------------------


def _svg(html: str) -> ET.Element:
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no chart"
    return ET.fromstring(found[0])


def test_the_period_view_draws_matched_and_open_per_day(hub, finance):
    page = finance.get("/finance/periods/2025-03/").content.decode()
    chart_url = "/finance/periods/2025-03/chart/?currency=GBP"
    assert f'hx-get="{chart_url}"' in page and "<svg" not in page  # loaded after the figures
    html = finance.get(chart_url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html  # a fragment for htmx
    svg = _svg(html)
    assert svg.get("role") == "img"
    assert svg.get("aria-label", "").startswith("Matched and open differences per day")
    bars = svg.findall(f".//{SVG}rect[@class]")
    bars = [bar for bar in bars if bar.get("class").startswith("bar ")]
    assert len(bars) == 2 * 31
    days = svg.findall(f".//{SVG}g[@class='day']")
    assert len(days) == 31
    eleventh = next(g for g in days if g.get("data-day") == "2025-03-11")
    values = {
        rect.get("class"): Decimal(rect.get("data-value")) for rect in eleventh.iter(f"{SVG}rect")
    }
    # CN0010486 and CN0010487 matched; CN0010486 is 5.00 short.
    assert values == {"bar bar-matched": Decimal("287.00"), "bar bar-open": Decimal("-5.00")}
    tooltip = eleventh.find(f".//{SVG}title").text
    assert tooltip.startswith("Tue 11 Mar 2025: Matched 2 (287.00 GBP)")
    link = eleventh.find(f"{SVG}a")
    assert link.get("href") == "/finance/days/2025-03-11/?currency=GBP"  # the chart's
    legend = [t.text for t in svg.findall(f"{SVG}g[@class='legend']/{SVG}text")]
    assert legend == ["Matched", "Open"]


def test_the_chart_by_count(hub, finance):
    chart = finance.get("/finance/periods/2025-03/chart/?currency=GBP&measure=count")
    assert "<html" in chart.content.decode()  # without htmx: a page of its own
    svg = _svg(chart.content.decode())
    eleventh = next(
        g for g in svg.findall(f".//{SVG}g[@class='day']") if g.get("data-day") == "2025-03-11"
    )
    values = [Decimal(rect.get("data-value")) for rect in eleventh.iter(f"{SVG}rect")]
    assert values == [2, 1]


def _point(day, matched=("0", 0), open_=("0", 0)):
    return SimpleNamespace(
        day=day,
        matched_amount=Decimal(matched[0]),
        matched_count=matched[1],
        open_amount=Decimal(open_[0]),
        open_count=open_[1],
    )


def test_the_chart_takes_negative_and_empty_days():
    points = [
        _point(date(2025, 2, 1), ("120.50", 3), ("-40.00", 1)),
        _point(date(2025, 2, 2)),
        _point(date(2025, 2, 3), open_=("9.99", 2)),
    ]
    svg = ET.fromstring(str(charts.matched_vs_open(points, currency="GBP", caption="A & B")))
    assert svg.find(f"{SVG}title").text == "A & B"
    rects = [r for r in svg.iter(f"{SVG}rect") if r.get("class", "").startswith("bar ")]
    assert len(rects) == 6
    zero = next(line for line in svg.iter(f"{SVG}line") if line.get("class") == "grid zero")
    negative = rects[1]
    # A negative bar hangs below the zero line.
    assert Decimal(negative.get("y")) == Decimal(zero.get("y1"))
    assert Decimal(negative.get("height")) > 0
    assert all(Decimal(r.get("height")) >= 0 for r in rects)
    empty = ET.fromstring(str(charts.matched_vs_open([], measure="count")))
    assert empty.get("role") == "img"
    with pytest.raises(ValueError):
        charts.matched_vs_open(points, measure="pounds")


# --- what the page is made of ---------------------------------------------------------


class _TableReader(HTMLParser):
    """The report's tables as text: each table's class, body rows and total row."""

    def __init__(self):
        super().__init__()
        self.tables, self.row, self.cell, self.part = [], None, None, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"class": attrs.get("class", ""), "body": [], "total": []})
        elif tag in ("tbody", "tfoot", "thead"):
            self.part = tag
        elif tag == "tr" and self.tables:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.part == "tbody":
                self.tables[-1]["body"].append(self.row)
            elif self.part == "tfoot":
                self.tables[-1]["total"] = self.row
            self.row = None


def _tables(html: str) -> list[dict]:
    reader = _TableReader()
    reader.feed(html)
    return reader.tables


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "")) if text else Decimal(0)


def test_htmx_is_served_and_loaded(finance):
    html = finance.get("/finance/differences/").content.decode()
    assert "vendor/htmx/htmx.min.js" in html
    assert 'hx-get="/finance/differences/"' in html and 'hx-push-url="true"' in html
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/htmx/htmx.min.js")
    assert finders.find("vendor/htmx/LICENSE")


def test_each_difference_row_carries_its_accept_or_reopen_form(hub, client, role_users):
    from reconciliation.models import CreditNote
    from reconciliation.services import acceptances

    note = CreditNote.objects.get(code="CN0010488")  # raised by hand: a difference
    key = f"raised_by_hand:{note.pk}"
    url = "/finance/differences/?period=2025-03&cause=raised_by_hand"
    client.force_login(role_users["finance"])
    page = client.get(url).content.decode()
    accept = reverse("finance:accept-difference")
    assert f'action="{accept}"' in page and f'name="key" value="{key}"' in page
    assert 'name="note" required' in page and 'name="csrfmiddlewaretoken"' in page
    assert f'name="next" value="{url.replace("&", "&amp;")}"' in page
    acceptances.accept(key, by=role_users["finance"], note="Staff discount")
    accepted = client.get(url + "&state=accepted").content.decode()
    assert f'action="{reverse("finance:reopen-difference")}"' in accepted
    # Someone without the permission gets no form (the page is finance's: the table alone).
    from reconciliation.services import differences
    from reconciliation.tables import DifferenceTable

    request = RequestFactory().get(url)
    request.user = role_users["cx"]
    table = DifferenceTable(differences.rows(differences.Period.parse("2025-03")))
    table.request = request
    assert "<form" not in table.render_action(table.data.data[0])
