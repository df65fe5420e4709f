"""/finance/: the reconciliation read by people. Read only; the actions live beside it.

The period view (a month) and the day view show, per platform and currency, the figures
(platform refunds, store credit, expected credit, posted, confirmed) and each difference
cause's open and accepted count and amount, with a total per currency. Every figure and
count links to the list behind it, with the same span and filters: the rows of that list
add up to it. Each list pages by keyset (``?after=``, never OFFSET) and costs a fixed
number of queries whatever the number of rows.

Only people who may read reconciliation (``reconciliation.view_creditnote``: finance and
superusers) get in; anyone else logged in gets 403, and the login middleware sends anyone
not logged in to the login page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from reconciliation import charts
from reconciliation.filtersets import (
    CreditNoteFilterSet,
    DifferenceFilterSet,
    DifferenceState,
    PostingFigure,
    PostingFilterSet,
    RefundedReturnFilterSet,
    ReportFilterSet,
)
from reconciliation.services import differences
from reconciliation.services.differences import (
    CAUSE_ORDER,
    FIGURES,
    OWNERS,
    SOURCES,
    DifferenceCause,
    Period,
    PeriodInvalid,
)
from reconciliation.tables import (
    CAUSE_LABELS,
    TEAM_LABELS,
    CreditNoteTable,
    DifferenceTable,
    PostingTable,
    RefundedReturnTable,
    money,
    platform_label,
)
from returns_hub.screens.lists import PAGE_SIZE, keyset_page, query_with, render_list

VIEW = "reconciliation.view_creditnote"  # finance (and superusers) read reconciliation
ZERO = Decimal("0.00")
FIGURE_LABELS = {
    "platform_refunds": "Platform refunds",
    "store_credit": "Store credit",
    "expected_credit": "Expected credit",
    "posted": "Posted",
    "confirmed": "Confirmed by credit notes",
}
_DIFFERENCE_CURSOR = re.compile(r"([a-z_]+):([0-9]{1,19})")

finance_only = permission_required(VIEW, raise_exception=True)


# --- The period and day views ---------------------------------------------------------


@dataclass
class Cell:
    """A figure or a count on the report, and the list behind it."""

    value: Decimal | int
    url: str = ""

    @property
    def css(self) -> str:
        return "num neg" if self.value < 0 else "num"

    @property
    def text(self) -> str:
        return money(self.value) if isinstance(self.value, Decimal) else str(self.value)

    def __html__(self) -> str:
        if not self.url:
            return format_html("{}", self.text)
        return format_html('<a href="{}">{}</a>', self.url, self.text)

    def __str__(self) -> str:
        return self.__html__()


@dataclass
class FigureRow:
    label: str
    cells: list[Cell]


@dataclass
class CauseRow:
    label: str  # the platform, or "Total"
    cause: str
    owner: str
    open_count: Cell
    open_amount: Cell
    accepted_count: Cell
    accepted_amount: Cell

    @property
    def cause_label(self) -> str:
        return CAUSE_LABELS.get(self.cause, self.cause)

    @property
    def owner_label(self) -> str:
        return TEAM_LABELS.get(self.owner, "The case's team")


@dataclass
class CurrencyReport:
    currency: str
    figure_rows: list[FigureRow] = field(default_factory=list)
    figure_total: FigureRow | None = None
    by_cause: list[CauseRow] = field(default_factory=list)
    cause_total: CauseRow | None = None
    by_platform: list[CauseRow] = field(default_factory=list)
    chart_url: str = ""


class Links:
    """URLs of the lists behind a report's figures, for one span and one platform filter."""

    def __init__(self, span_params: dict, platform: str | None):
        self.span_params = span_params
        self.platform = platform

    def url(self, name: str, **params) -> str:
        given = {**self.span_params, **params}
        return f"{reverse(name)}?{urlencode({k: v for k, v in given.items() if v})}"

    def figure(self, name: str, platform: str | None, currency: str, *, grouped=False) -> str:
        if grouped and platform is None:
            # The group of rows with no platform (credit notes raised by hand): no list
            # selects "no platform", and its figures are nil.
            return ""
        where = {"platform": platform or self.platform or "", "currency": currency}
        if name == "platform_refunds":
            return self.url("finance:returns", **where)
        if name == "store_credit":
            return self.difference(
                DifferenceCause.STORE_CREDIT_OUTSTANDING, platform, currency, DifferenceState.ALL
            )
        if name in (PostingFigure.EXPECTED_CREDIT, PostingFigure.POSTED):
            return self.url("finance:postings", figure=name, **where)
        return self.url("finance:credit-notes", matched="yes", **where)

    def difference(
        self, cause: str, platform: str | None, currency: str, state: str, *, grouped=False
    ) -> str:
        if grouped and platform is None and SOURCES[cause].platform_path is not None:
            # A row of a cause that has platforms, without one: the list cannot select it.
            return ""
        return self.url(
            "finance:differences",
            cause=cause,
            platform=platform or self.platform or "",
            currency=currency,
            state=state,
        )


def _cause_row(label, cause, platform, currency, links, totals, *, grouped=False) -> CauseRow:
    """``grouped``: a platform's row (platform None is the group with no platform), else a
    sum over every platform shown."""
    open_count, open_amount, accepted_count, accepted_amount = totals
    open_url = links.difference(cause, platform, currency, DifferenceState.OPEN, grouped=grouped)
    accepted_url = links.difference(
        cause, platform, currency, DifferenceState.ACCEPTED, grouped=grouped
    )
    return CauseRow(
        label=label,
        cause=cause,
        owner=OWNERS[cause] or "",
        open_count=Cell(open_count, open_url),
        open_amount=Cell(open_amount, open_url),
        accepted_count=Cell(accepted_count, accepted_url),
        accepted_amount=Cell(accepted_amount, accepted_url),
    )


def _currency_reports(found, links: Links) -> list[CurrencyReport]:
    """Group the period's totals by currency; each currency's totals are the sums of the
    rows shown above them (Decimals: they foot to the penny)."""
    reports: dict[str, CurrencyReport] = {}
    cause_sums: dict[str, dict[str, list]] = defaultdict(
        lambda: {name: [0, ZERO, 0, ZERO] for name in CAUSE_ORDER}
    )
    figure_sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(FIGURES))
    for total in found:
        report = reports.setdefault(total.currency, CurrencyReport(total.currency))
        values = [getattr(total, name) for name in FIGURES]
        report.figure_rows.append(
            FigureRow(
                platform_label(total.platform),
                [
                    Cell(value, links.figure(name, total.platform, total.currency, grouped=True))
                    for name, value in zip(FIGURES, values, strict=True)
                ],
            )
        )
        figure_sums[total.currency] = [
            a + b for a, b in zip(figure_sums[total.currency], values, strict=True)
        ]
        for cause in total.causes:
            numbers = (cause.count, cause.amount, cause.accepted_count, cause.accepted_amount)
            summed = cause_sums[total.currency][cause.cause]
            cause_sums[total.currency][cause.cause] = [
                a + b for a, b in zip(summed, numbers, strict=True)
            ]
            if cause.count or cause.accepted_count:
                report.by_platform.append(
                    _cause_row(
                        platform_label(total.platform),
                        cause.cause,
                        total.platform,
                        total.currency,
                        links,
                        numbers,
                        grouped=True,
                    )
                )
    for currency, report in reports.items():
        report.figure_total = FigureRow(
            "Total",
            [
                Cell(value, links.figure(name, None, currency))
                for name, value in zip(FIGURES, figure_sums[currency], strict=True)
            ],
        )
        sums = cause_sums[currency]
        report.by_cause = [
            _cause_row(CAUSE_LABELS[name], name, None, currency, links, sums[name])
            for name in CAUSE_ORDER
        ]
        everything = [sum(sums[name][i] for name in CAUSE_ORDER) for i in range(4)]
        every_open = links.difference("", None, currency, DifferenceState.OPEN)
        every_accepted = links.difference("", None, currency, DifferenceState.ACCEPTED)
        report.cause_total = CauseRow(
            label="Total",
            cause="",
            owner="",
            open_count=Cell(everything[0], every_open),
            open_amount=Cell(everything[1], every_open),
            accepted_count=Cell(everything[2], every_accepted),
            accepted_amount=Cell(everything[3], every_accepted),
        )
    return sorted(reports.values(), key=lambda r: r.currency)


def _report_filters(request) -> ReportFilterSet:
    filterset = ReportFilterSet(request.GET)
    if not filterset.is_valid():
        raise BadRequest(filterset.form.errors.as_text())
    return filterset


def _span_url(name: str, day: date, days: int, fmt: str, query: str) -> str:
    """The span ``days`` from ``day`` (none before year 1 or after 9998)."""
    try:
        when = day + timedelta(days=days)
    except OverflowError:
        return ""
    if when.year > 9998:
        return ""
    return reverse(name, args=[when.strftime(fmt)]) + query


def _report(request, span: Period, *, day: date | None = None):
    filterset = _report_filters(request)
    values = filterset.values()
    platform, currency = values["platform"], values["currency"]
    measure = request.GET.get("measure")
    measure = measure if measure in charts.MEASURES else "amount"
    keep = query_with(request, measure=None if measure == "amount" else measure)
    if day is None:
        span_params = {"period": str(span)}
        previous_url = _span_url("finance:period", span.first, -1, "%Y-%m", keep)
        next_url = _span_url("finance:period", span.after, 0, "%Y-%m", keep)
        title = span.label
    else:
        span_params = {"day": day.isoformat()}
        previous_url = _span_url("finance:day", day, -1, "%Y-%m-%d", keep)
        next_url = _span_url("finance:day", day, 1, "%Y-%m-%d", keep)
        title = f"{day:%A} {span.label}"
    links = Links(span_params, platform)
    reports = _currency_reports(
        differences.totals(span, platform=platform, currency=currency), links
    )
    if day is None:
        # The chart is its own request (htmx loads it with the page, a link without
        # JavaScript): the figures answer first, the daily series does not hold them up.
        for report in reports:
            report.chart_url = reverse("finance:period-chart", args=[str(span)]) + query_with(
                request, currency=report.currency
            )
    context = {
        "title": title,
        "span": span,
        "day": day,
        "filter": filterset,
        "reports": reports,
        "figure_labels": [FIGURE_LABELS[name] for name in FIGURES],
        "previous_url": previous_url,
        "next_url": next_url,
        "month_url": reverse("finance:period", args=[f"{span.first:%Y-%m}"]) + keep,
        "measure": measure,
        "measure_urls": {
            name: query_with(request, measure=None if name == "amount" else name)
            for name in charts.MEASURES
        },
        "period_slug": f"{span.first:%Y-%m}",
        "links": {
            "differences": links.url("finance:differences", currency=currency or ""),
            "returns": links.url("finance:returns", currency=currency or ""),
            "postings": links.url("finance:postings", currency=currency or ""),
            "credit_notes": links.url("finance:credit-notes", currency=currency or ""),
        },
    }
    return render(request, "reconciliation/report.html", context)


@require_GET
@finance_only
def index(request):
    """This month."""
    return _report(request, Period.parse(f"{timezone.localdate():%Y-%m}"))


@require_GET
@finance_only
def period(request, month: str):
    try:
        span = Period.parse(month)
    except PeriodInvalid as error:
        raise Http404(str(error)) from error
    return _report(request, span)


@require_GET
@finance_only
def day(request, on: str):
    try:
        span = Period.parse_day(on)
    except PeriodInvalid as error:
        raise Http404(str(error)) from error
    return _report(request, span, day=span.first)


def _chart_caption(title: str, measure: str, currency: str) -> str:
    by = f"by {measure}" + (f" ({currency})" if measure == "amount" else "")
    return f"Matched and open differences per day in {title}, {by}"


@require_GET
@finance_only
def period_chart(request, month: str):
    """The period's chart of matched vs open differences per day, for one currency."""
    try:
        span = Period.parse(month)
    except PeriodInvalid as error:
        raise Http404(str(error)) from error
    filterset = _report_filters(request)
    values = filterset.values()
    platform, currency = values["platform"], values["currency"]
    if not currency:
        raise BadRequest("currency: the chart is drawn for one currency")
    measure = request.GET.get("measure")
    measure = measure if measure in charts.MEASURES else "amount"
    day_query = urlencode({k: v for k, v in (("platform", platform), ("currency", currency)) if v})

    def day_url(on: date) -> str:
        url = reverse("finance:day", args=[on.isoformat()])
        return f"{url}?{day_query}" if day_query else url

    chart = charts.matched_vs_open(
        differences.daily(span, platform=platform, currency=currency),
        measure=measure,
        currency=currency,
        day_url=day_url,
        chart_id=f"chart-{currency.lower()}",
        caption=_chart_caption(span.label, measure, currency),
    )
    context = {
        "chart": chart,
        "measure": measure,
        "measure_urls": {
            name: reverse("finance:period", args=[str(span)])
            + query_with(request, currency=None, measure=None if name == "amount" else name)
            for name in charts.MEASURES
        },
    }
    # htmx takes the figure into the period page; a plain request gets a page around it.
    if request.headers.get("HX-Request"):
        return render(request, "reconciliation/chart.html", context)
    context["title"] = _chart_caption(span.label, measure, currency)
    context["period_url"] = reverse("finance:period", args=[str(span)])
    return render(request, "reconciliation/chart_page.html", context)


# --- The lists --------------------------------------------------------------------------


def _render_list(request, **kwargs):
    return render_list(request, template="reconciliation/list.html", **kwargs)


def _difference_after(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    found = _DIFFERENCE_CURSOR.fullmatch(text)
    if not found or found[1] not in CAUSE_ORDER:
        raise BadRequest("after: not a position in this list")
    return CAUSE_ORDER.index(found[1]), int(found[2])


def difference_page(values: dict, after: tuple[int, int] | None, size: int = PAGE_SIZE):
    """One page of difference rows from ``after`` and the position the next page starts
    after (None on the last page).

    ``differences.rows`` reads one query per cause; owner narrows which causes are read,
    and the few rows of ``handled_outside`` (owned by their exception's team) are filtered
    here. The next page starts after the last row read, so every row is seen once, even
    when a filtered page comes out shorter.
    """
    owner = values["owner"]
    causes = [values["cause"]] if values["cause"] else list(CAUSE_ORDER)
    if owner:
        causes = [name for name in causes if OWNERS[name] in (owner, None)]
    read = []
    for name in causes:
        if after is not None and CAUSE_ORDER.index(name) < after[0]:
            continue
        read += differences.rows(
            values["period"],
            cause=name,
            platform=values["platform"],
            currency=values["currency"],
            state=values["state"],
            after=after,
            limit=size + 1 - len(read),
        )
        if len(read) > size:
            break
    consumed = read[:size]
    page = [row for row in consumed if owner is None or row.owner == owner]
    next_after = consumed[-1].key if len(read) > size else None
    return page, next_after


@require_GET
@finance_only
def difference_list(request):
    filterset = DifferenceFilterSet(request.GET)
    title = "Differences"
    if not filterset.is_valid():
        return _render_list(
            request,
            filterset=filterset,
            table=DifferenceTable([]),
            title=title,
            intro="",
            next_after=None,
            status=400,
        )
    values = filterset.values()
    page, next_after = difference_page(values, _difference_after(request.GET.get("after")))
    show_state = values["state"] != DifferenceState.OPEN
    table = DifferenceTable(page, exclude=() if show_state else ("accepted",))
    intro = (
        "Each row is one return, posting, credit note, liability or ignored exception that "
        "does not tie off, dated by the date that matters for it, in order of cause."
    )
    return _render_list(
        request,
        filterset=filterset,
        table=table,
        title=title,
        intro=intro,
        next_after=next_after,
    )


def _model_list(request, filterset_class, table_class, *, title: str, intro: str):
    filterset = filterset_class(request.GET, queryset=filterset_class.base())
    if not filterset.is_valid():
        return _render_list(
            request,
            filterset=filterset,
            table=table_class([]),
            title=title,
            intro=intro,
            next_after=None,
            status=400,
        )
    page, next_after = keyset_page(filterset.qs, filterset.column(), request.GET.get("after"))
    return _render_list(
        request,
        filterset=filterset,
        table=table_class(page),
        title=title,
        intro=intro,
        next_after=next_after,
    )


@require_GET
@finance_only
def return_list(request):
    return _model_list(
        request,
        RefundedReturnFilterSet,
        RefundedReturnTable,
        title="Refunded returns",
        intro="The returns behind platform refunds: refunded by the platform in the span, "
        "by the day of the refund.",
    )


@require_GET
@finance_only
def posting_list(request):
    return _model_list(
        request,
        PostingFilterSet,
        PostingTable,
        title="Return postings",
        intro="The credit notes the hub asked Khaos for. Expected credit: by the day the "
        "posting was made (neither withdrawn nor cancelled); posted: by the day it was "
        "offered to Khaos.",
    )


@require_GET
@finance_only
def credit_note_list(request):
    return _model_list(
        request,
        CreditNoteFilterSet,
        CreditNoteTable,
        title="Credit notes",
        intro="Khaos credit notes by the day they were issued; the matched ones confirm a "
        "return posting.",
    )
