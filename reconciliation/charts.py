"""Charts drawn on the server as inline SVG: no JavaScript, readable printed and by a
screen reader (``role="img"`` with a label, a ``<title>`` tooltip on every bar).

Coordinates are computed with Decimals, as the amounts are: nothing here is a float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 800
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 40, 48
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
TICKS = 4
# Each day's slot: two bars side by side, with space either side of the pair.
BAR_SHARE = Decimal("0.36")
GAP_SHARE = Decimal("0.14")
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
COORD = Decimal("0.01")


@dataclass(frozen=True)
class Series:
    name: str  # the CSS class and the field prefix on a day point: matched, open
    label: str


SERIES = (Series("matched", "Matched"), Series("open", "Open"))
MEASURES = {"amount": "Amount", "count": "Count"}


def _fmt(value: Decimal) -> str:
    return format(value.quantize(COORD), "f")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _nice_step(span: Decimal, whole: bool) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that covers ``span`` in TICKS steps."""
    if span <= 0:
        return Decimal(1)
    raw = span / TICKS
    scale = Decimal(1).scaleb(raw.adjusted())
    for step in NICE_STEPS:
        candidate = step * scale
        if candidate >= raw and (not whole or candidate == candidate.to_integral_value()):
            return candidate
    return Decimal(10) * scale


def _axis(values: Sequence[Decimal], whole: bool) -> tuple[Decimal, Decimal, Decimal]:
    """The lowest and highest tick and the step, always taking in zero (a day's open
    amount may be negative: a credit note for less than expected)."""
    low = min([Decimal(0), *values])
    high = max([Decimal(0), *values])
    step = _nice_step(high - low, whole)
    bottom = (low / step).to_integral_value(ROUND_FLOOR) * step
    top = (high / step).to_integral_value(ROUND_CEILING) * step
    if top == bottom:
        top = bottom + step * TICKS
    return bottom, top, step


def _value(point, series: Series, measure: str) -> Decimal:
    return Decimal(getattr(point, f"{series.name}_{measure}"))


def matched_vs_open(
    points: Sequence,
    *,
    measure: str = "amount",
    currency: str = "",
    caption: str = "",
    day_url: Callable[[date], str] | None = None,
    chart_id: str = "chart",
) -> SafeString:
    """Matched and open differences per day, as grouped bars, from day points with
    ``day`` and ``matched_count``, ``matched_amount``, ``open_count``, ``open_amount``.

    ``day_url`` makes each day's bars a link (to that day's view).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure is one of {sorted(MEASURES)}")
    whole = measure == "count"
    values = [_value(point, series, measure) for point in points for series in SERIES]
    bottom, top, step = _axis(values, whole)
    scale = Decimal(PLOT_HEIGHT) / (top - bottom)

    def y(value: Decimal) -> Decimal:
        return TOP + (top - value) * scale

    unit = f" ({currency})" if measure == "amount" and currency else ""
    label = caption or f"Matched and open differences per day, by {measure}{unit}"
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    total = {
        series.name: sum((_value(point, series, measure) for point in points), Decimal(0))
        for series in SERIES
    }
    described = "; ".join(
        f"{series.label.lower()} {_money(total[series.name]) if not whole else total[series.name]}"
        for series in SERIES
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" aria-labelledby="{title_id} {desc_id}" '
        f'preserveAspectRatio="xMinYMin meet" id="{escape(chart_id)}">',
        f'<title id="{title_id}">{escape(label)}</title>',
        f'<desc id="{desc_id}">{len(points)} days; in all, {escape(described)}.</desc>',
    ]
    # Gridlines and the value axis.
    out.append('<g class="axis axis-y">')
    tick = bottom
    while tick <= top:
        at = _fmt(y(tick))
        text = str(int(tick)) if whole else _money(tick)
        css = "grid zero" if tick == 0 else "grid"
        out.append(f'<line class="{css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at}" y2="{at}"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{at}" text-anchor="end" dominant-baseline="middle">'
            f"{escape(text)}</text>"
        )
        tick += step
    out.append(
        f'<text class="axis-title" x="12" y="{TOP + PLOT_HEIGHT // 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + PLOT_HEIGHT // 2})">'
        f"{escape(MEASURES[measure] + unit)}</text>"
    )
    out.append("</g>")
    # The bars, two per day, each with its tooltip.
    slot = Decimal(PLOT_WIDTH) / max(len(points), 1)
    bar = slot * BAR_SHARE
    zero = y(Decimal(0))
    out.append('<g class="bars">')
    for index, point in enumerate(points):
        left = LEFT + slot * index
        day_label = f"{point.day:%a} {point.day.day} {point.day:%b %Y}"
        tooltip = "; ".join(
            f"{series.label} {getattr(point, f'{series.name}_count')}"
            f" ({_money(Decimal(getattr(point, f'{series.name}_amount')))}"
            f"{' ' + currency if currency else ''})"
            for series in SERIES
        )
        group = [f'<g class="day" data-day="{point.day.isoformat()}">']
        if day_url is not None:
            group.append(f'<a href="{escape(day_url(point.day))}">')
        for offset, series in enumerate(SERIES):
            value = _value(point, series, measure)
            edge = y(value)
            x = left + slot * GAP_SHARE + bar * offset
            group.append(
                f'<rect class="bar bar-{series.name}" x="{_fmt(x)}" y="{_fmt(min(edge, zero))}" '
                f'width="{_fmt(bar)}" height="{_fmt(abs(zero - edge))}" '
                f'data-value="{value}"><title>{escape(f"{day_label}: {tooltip}")}</title></rect>'
            )
        if day_url is not None:
            group.append("</a>")
        group.append(
            f'<text class="day-label" x="{_fmt(left + slot / 2)}" y="{TOP + PLOT_HEIGHT + 16}" '
            f'text-anchor="middle">{point.day.day}</text>'
        )
        group.append("</g>")
        out.append("".join(group))
    out.append("</g>")
    out.append(
        f'<line class="axis-x" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + PLOT_HEIGHT}" y2="{TOP + PLOT_HEIGHT}"/>'
    )
    if points:
        month = f"{points[0].day:%B %Y}"
        out.append(
            f'<text class="axis-title" x="{LEFT + PLOT_WIDTH // 2}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">Day of {escape(month)}</text>'
        )
    # The legend, top right.
    out.append(f'<g class="legend" transform="translate({WIDTH - RIGHT - 220} 10)">')
    for offset, series in enumerate(SERIES):
        x = offset * 110
        out.append(
            f'<rect class="swatch bar-{series.name}" x="{x}" y="0" width="14" height="14"/>'
            f'<text x="{x + 20}" y="11">{escape(series.label)}</text>'
        )
    out.append("</g>")
    out.append("</svg>")
    return mark_safe("\n".join(out))
