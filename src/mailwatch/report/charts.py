"""The report's charts as inline SVG: bars (availability per day or month) and lines (latency
percentiles by month, a certificate's days left). Presentation attributes only, no ``style``,
so the web face's Content-Security-Policy allows them and WeasyPrint draws them alike."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 640
HEIGHT = 180
LEFT = 48
BOTTOM = 22
TOP = 10
RIGHT = 8
COLORS = ("#2b6cb0", "#dd6b20", "#c53030", "#2f855a")
GRID = "#d0d0d0"
TEXT = "#444444"


def _y(value: float, lo: float, hi: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    span = (hi - lo) or 1.0
    clamped = min(max(value, lo), hi)
    return TOP + inner * (1 - (clamped - lo) / span)


def _axes(lo: float, hi: float, fmt: str, title: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = _y(value, lo, hi)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
            f'<text x="{LEFT - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end" '
            f'fill="{TEXT}">{escape(fmt.format(value))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    step = max(1, len(labels) // 12)
    return [
        f'<text x="{x:.1f}" y="{HEIGHT - 6}" font-size="9" text-anchor="middle" '
        f'fill="{TEXT}">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0
    ]


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    lo: float,
    hi: float,
    fmt: str,
    title: str,
    line: float | None = None,
) -> str:
    """One bar per label from ``lo`` up (None: no bar, a gap); ``line``: a target drawn
    across."""
    parts = _axes(lo, hi, fmt, title)
    count = max(1, len(labels))
    slot = (WIDTH - LEFT - RIGHT) / count
    base = _y(lo, lo, hi)
    xs = []
    for i, value in enumerate(values):
        x = LEFT + i * slot
        xs.append(x + slot / 2)
        if value is None:
            continue
        y = _y(value, lo, hi)
        parts.append(
            f'<rect x="{x + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{max(0.0, base - y):.1f}" fill="{COLORS[0]}"/>'
        )
    if line is not None:
        y = _y(line, lo, hi)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{COLORS[2]}" stroke-width="1" stroke-dasharray="4 3"/>'
        )
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    fmt: str,
    title: str,
    lo: float = 0.0,
) -> str:
    """One line per named series over ``labels``, with a legend; None values break a line."""
    values = [v for _, vs in series for v in vs if v is not None]
    hi = max(values, default=1.0) * 1.1 or 1.0
    parts = _axes(lo, hi, fmt, title)
    count = len(labels)
    inner = WIDTH - LEFT - RIGHT
    xs = [LEFT + inner * (i + 0.5) / max(1, count) for i in range(count)]
    for n, (name, points) in enumerate(series):
        color = COLORS[n % len(COLORS)]
        run: list[str] = []
        for x, value in zip(xs, points, strict=True):
            if value is None:
                if run:
                    parts.append(_polyline(run, color))
                run = []
                continue
            run.append(f"{x:.1f},{_y(value, lo, hi):.1f}")
        if run:
            parts.append(_polyline(run, color))
        parts.append(
            f'<text x="{LEFT + 8 + n * 70}" y="{TOP + 10}" font-size="10" '
            f'fill="{color}">■ {escape(name)}</text>'
        )
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return "".join(parts)


def _polyline(points: list[str], color: str) -> str:
    if len(points) == 1:
        x, y = points[0].split(",")
        return f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>'
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="1.5"/>'
    )
