"""Returns and postings per day as a server-drawn SVG (no JavaScript; the finance chart's
style): grouped bars, a ``<title>`` on each bar, and a label for screen readers.

Counts are whole numbers; nothing here is money.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 800, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 32, 36
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
SERIES = (("returns", "Returns"), ("postings", "Postings to Khaos"))
TICKS = 4


def _step(high: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten step that covers ``high`` in TICKS steps."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale * TICKS >= high:
                return step * scale
        scale *= 10


def _at(value: float) -> str:
    return f"{value:.2f}"


def per_day(points: Sequence, *, day_url: Callable | None = None) -> SafeString:
    """Bars of ``returns`` and ``postings`` for each point's ``day``."""
    high = max([1, *(getattr(p, name) for p in points for name, _ in SERIES)])
    step = _step(high)
    top = step * TICKS
    total = {name: sum(getattr(p, name) for p in points) for name, _ in SERIES}
    label = f"Returns and postings per day, last {len(points)} days"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="per-day-title per-day-desc" id="per-day">',
        f'<title id="per-day-title">{escape(label)}</title>',
        f'<desc id="per-day-desc">In all, {total["returns"]} returns and '
        f"{total['postings']} postings.</desc>",
        '<g class="axis axis-y">',
    ]
    for tick in range(0, top + 1, step):
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * tick / top
        css = "grid zero" if tick == 0 else "grid"
        out.append(
            f'<line class="{css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_at(y)}" y2="{_at(y)}"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{_at(y)}" text-anchor="end" dominant-baseline="middle">'
            f"{tick}</text>"
        )
    out.append("</g>")
    slot = PLOT_WIDTH / max(len(points), 1)
    bar = slot * 0.36
    out.append('<g class="bars">')
    for index, point in enumerate(points):
        left = LEFT + slot * index
        day_label = f"{point.day:%a} {point.day.day} {point.day:%b}"
        group = [f'<g class="day" data-day="{point.day.isoformat()}">']
        if day_url is not None:
            group.append(f'<a href="{escape(day_url(point.day))}">')
        for offset, (name, series_label) in enumerate(SERIES):
            value = getattr(point, name)
            height = PLOT_HEIGHT * value / top
            x = left + slot * 0.14 + bar * offset
            group.append(
                f'<rect class="bar bar-{name}" x="{_at(x)}" y="{_at(TOP + PLOT_HEIGHT - height)}" '
                f'width="{_at(bar)}" height="{_at(height)}" data-value="{value}">'
                f"<title>{escape(f'{day_label}: {value} {series_label.lower()}')}</title></rect>"
            )
        if day_url is not None:
            group.append("</a>")
        group.append(
            f'<text class="day-label" x="{_at(left + slot / 2)}" y="{TOP + PLOT_HEIGHT + 16}" '
            f'text-anchor="middle">{point.day.day}</text></g>'
        )
        out.append("".join(group))
    out.append("</g>")
    out.append(f'<g class="legend" transform="translate({WIDTH - RIGHT - 260} 8)">')
    for offset, (name, series_label) in enumerate(SERIES):
        x = offset * 110
        out.append(
            f'<rect class="swatch bar-{name}" x="{x}" y="0" width="14" height="14"/>'
            f'<text x="{x + 20}" y="11">{escape(series_label)}</text>'
        )
    out.append("</g></svg>")
    return mark_safe("\n".join(out))
