"""A chart as an SVG document: axes with round ticks, the unit, a line per series (gaps where
buckets are missing, a min–max band), warning and critical lines, shaded tickets and
maintenance windows, a legend, and a ``<title>``/``<desc>`` a screen reader reads.

Presentation attributes only (no ``<style>``, no ``style=``): the pages' Content-Security-Policy
forbids inline styles, and the report's HTML and PDF carry the SVG without the site's CSS. A
fixed ``viewBox`` (400 wide) scales the drawing to the width it is given, a 390 px phone
included.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mailwatch.charts.model import Chart, Level, Series, ShadeKind
from mailwatch.charts.scales import (
    aware,
    clamp,
    format_value,
    tick_label,
    time_ticks,
    value_ticks,
)

WIDTH = 400
PLOT_HEIGHT = 150
LEFT = 58
RIGHT = 12
TOP = 24
BOTTOM = 20
LEGEND_ROW = 16
FONT = 12
CHAR_WIDTH = 6.8
"""About one character's advance at FONT px, to lay the legend out without measuring text."""

PALETTE = ("#0b57d0", "#188038", "#8e24aa", "#e37400", "#00838f", "#5f6368")
LEVEL_COLOUR = {Level.WARNING: "#b06000", Level.CRITICAL: "#c5221f"}
SHADE_COLOUR = {ShadeKind.TICKET: "#d93025", ShadeKind.MAINTENANCE: "#5f6368"}
SHADE_OPACITY = {ShadeKind.TICKET: "0.14", ShadeKind.MAINTENANCE: "0.18"}
INK = "#1d2329"
MUTED = "#5f6368"
GRID = "#e3e6ea"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def _text(value: object) -> str:
    """Text safe in an element or a quoted attribute of XML and HTML alike."""
    return html.escape(_NOT_XML.sub("\ufffd", str(value)), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _finite(value: float | None) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value):
        return None
    return clamp(float(value))


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot's rectangle and the scales onto it."""

    start_s: float
    end_s: float
    low: float
    high: float
    top: float
    height: float

    def x(self, instant: datetime) -> float:
        return self.x_s(aware(instant).timestamp())

    def x_s(self, at_s: float) -> float:
        fraction = (at_s - self.start_s) / (self.end_s - self.start_s)
        return LEFT + min(1.0, max(0.0, fraction)) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        fraction = (clamp(value) - self.low) / (self.high - self.low)
        return self.top + (1.0 - min(1.0, max(0.0, fraction))) * self.height


@dataclass(frozen=True, slots=True)
class _Sample:
    """A point as the drawing needs it: Unix seconds and finite (clamped) values or None."""

    at_s: float
    value: float | None
    low: float | None
    high: float | None


def _visible(series: Series, start_s: float, end_s: float) -> list[_Sample]:
    kept = []
    for point in series.points:
        try:
            at = aware(point.at).timestamp()
        except (OverflowError, ValueError, OSError):
            continue
        if start_s <= at <= end_s:
            kept.append(_Sample(at, _finite(point.value), _finite(point.low), _finite(point.high)))
    kept.sort(key=lambda p: p.at_s)
    return kept


def _runs(points: Sequence[_Sample], step_s: float | None) -> list[list[_Sample]]:
    """Stretches of points to join with a line: broken at gaps and at missing buckets."""
    runs: list[list[_Sample]] = []
    current: list[_Sample] = []
    previous_s: float | None = None
    for point in points:
        missing = (
            step_s is not None and previous_s is not None and point.at_s - previous_s > 1.5 * step_s
        )
        if point.value is None or missing:
            if current:
                runs.append(current)
            current = []
        if point.value is not None:
            current.append(point)
        previous_s = point.at_s
    if current:
        runs.append(current)
    return runs


def _span_s(chart: Chart) -> tuple[float, float]:
    try:
        start_s, end_s = aware(chart.start).timestamp(), aware(chart.end).timestamp()
    except (OverflowError, ValueError, OSError):
        start_s, end_s = 0.0, 1.0
    if not end_s > start_s:
        end_s = start_s + 1.0
    return start_s, end_s


def _value_range(chart: Chart, visible: Iterable[list[_Sample]]) -> tuple[float, float]:
    values: list[float] = []
    for points in visible:
        for point in points:
            for value in (point.value, point.low, point.high):
                if value is not None:
                    values.append(value)
    values.extend(v for t in chart.thresholds if (v := _finite(t.value)) is not None)
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low >= 0:
        low = 0.0  # a zero baseline: the height of a line is its size
    return low, high


def render_svg(chart: Chart) -> str:
    """The chart as one ``<svg>`` element, ready to inline in HTML or to save as a file."""
    ident = _NOT_ID.sub("-", chart.ident) or "chart"
    start_s, end_s = _span_s(chart)
    visible = [_visible(series, start_s, end_s) for series in chart.series]
    low, high = _value_range(chart, visible)
    ticks = value_ticks(low, high, chart.unit)
    legend = _legend_items(chart)
    rows = _legend_rows(legend)
    height = TOP + PLOT_HEIGHT + BOTTOM + LEGEND_ROW * len(rows) + (4 if rows else 0)
    frame = _Frame(start_s, end_s, ticks[0], ticks[-1], TOP, PLOT_HEIGHT)
    title = f"{chart.title} ({chart.unit})" if chart.unit else chart.title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(_describe(chart, visible))}</desc>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="{TOP - 9}" fill="{INK}" font-weight="600">{_text(title)}</text>',
    ]
    parts.extend(_shades(chart, frame))
    parts.extend(_grid(ticks, chart.unit, frame))
    parts.extend(_time_axis(chart, frame))
    parts.extend(_thresholds(chart, frame))
    for index, (series, points) in enumerate(zip(chart.series, visible, strict=True)):
        parts.extend(_series(series, points, PALETTE[index % len(PALETTE)], frame))
    if not any(p.value is not None for points in visible for p in points):
        parts.append(
            f'<text class="no-data" x="{_n(LEFT + (WIDTH - LEFT - RIGHT) / 2)}" '
            f'y="{_n(TOP + PLOT_HEIGHT / 2)}" text-anchor="middle" fill="{MUTED}">'
            "no data in this range</text>"
        )
    parts.extend(_legend(rows, TOP + PLOT_HEIGHT + BOTTOM + 4))
    parts.append("</svg>")
    return "".join(parts)


def _grid(ticks: list[float], unit: str, frame: _Frame) -> list[str]:
    parts = ['<g class="y-axis">']
    for value in ticks:
        y = _n(frame.y(value))
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 4}" y="{y}" dy="0.32em" text-anchor="end" fill="{MUTED}" '
            f'data-value="{value!r}">{_text(tick_label(value, unit))}</text>'
        )
    parts.append("</g>")
    return parts


def _time_axis(chart: Chart, frame: _Frame) -> list[str]:
    bottom = frame.top + frame.height
    parts = [
        '<g class="x-axis">',
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(bottom)}" y2="{_n(bottom)}" '
        f'stroke="{MUTED}"/>',
    ]
    try:
        ticks = time_ticks(chart.start, chart.end, chart.zone)
    except (OverflowError, ValueError, OSError):
        ticks = []
    for instant, label in ticks:
        at = frame.x(instant)
        x = _n(at)
        # A label at either end stays inside the drawing.
        half = CHAR_WIDTH * len(label) / 2
        anchor = "end" if at + half > WIDTH else "start" if at - half < LEFT - 30 else "middle"
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{_n(bottom)}" y2="{_n(bottom + 4)}" stroke="{MUTED}"/>'
            f'<text x="{x}" y="{_n(bottom + 15)}" text-anchor="{anchor}" fill="{MUTED}">'
            f"{_text(label)}</text>"
        )
    parts.append("</g>")
    return parts


def _shades(chart: Chart, frame: _Frame) -> list[str]:
    parts = []
    for shade in chart.shades:
        try:
            start_s = aware(shade.start).timestamp()
            end_s = frame.end_s if shade.end is None else aware(shade.end).timestamp()
        except (OverflowError, ValueError, OSError):
            continue
        if end_s < frame.start_s or start_s > frame.end_s or end_s < start_s:
            continue
        left = frame.x(shade.start)
        right = frame.x(shade.end) if shade.end is not None else WIDTH - RIGHT
        parts.append(
            f'<rect class="shade {shade.kind.value}" x="{_n(left)}" y="{_n(frame.top)}" '
            f'width="{_n(max(1.0, right - left))}" height="{_n(frame.height)}" '
            f'fill="{SHADE_COLOUR[shade.kind]}" fill-opacity="{SHADE_OPACITY[shade.kind]}">'
            f"<title>{_text(shade.label)}</title></rect>"
        )
    return parts


def _thresholds(chart: Chart, frame: _Frame) -> list[str]:
    parts = []
    for threshold in chart.thresholds:
        value = _finite(threshold.value)
        if value is None:
            continue
        y = _n(frame.y(value))
        colour = LEVEL_COLOUR[threshold.level]
        label = f"{threshold.level.value} {format_value(value, chart.unit)}"
        parts.append(
            f'<g class="threshold {threshold.level.value}" data-value="{value!r}">'
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - RIGHT - 2}" y="{y}" dy="-3" text-anchor="end" fill="{colour}" '
            # A white halo keeps the label legible where the data crosses it.
            'stroke="#ffffff" stroke-width="3" paint-order="stroke">'
            f"{_text(label)}</text></g>"
        )
    return parts


def _series(series: Series, points: list[_Sample], colour: str, frame: _Frame) -> list[str]:
    runs = _runs(points, series.step_s)
    parts = [f'<g class="series" data-label="{_text(series.label)}">']
    for run in runs:
        if len(run) > 1 and all(p.low is not None and p.high is not None for p in run):
            upper = " L".join(f"{_n(frame.x_s(p.at_s))} {_n(frame.y(p.high or 0.0))}" for p in run)
            lower = " L".join(
                f"{_n(frame.x_s(p.at_s))} {_n(frame.y(p.low or 0.0))}" for p in reversed(run)
            )
            parts.append(
                f'<path class="band" d="M{upper} L{lower} Z" fill="{colour}" fill-opacity="0.15"/>'
            )
    for run in runs:
        if len(run) == 1:
            point = run[0]
            parts.append(
                f'<circle class="dot" cx="{_n(frame.x_s(point.at_s))}" '
                f'cy="{_n(frame.y(point.value or 0.0))}" r="2.5" fill="{colour}"/>'
            )
            continue
        path = " L".join(f"{_n(frame.x_s(p.at_s))} {_n(frame.y(p.value or 0.0))}" for p in run)
        parts.append(
            f'<path class="line" d="M{path}" fill="none" stroke="{colour}" stroke-width="1.6" '
            'stroke-linejoin="round"/>'
        )
    parts.append("</g>")
    return parts


def _legend_items(chart: Chart) -> list[tuple[str, str, str]]:
    """(swatch kind, colour, label) per series, when there are several, and per kind of shade."""
    items: list[tuple[str, str, str]] = []
    if len(chart.series) > 1:
        items.extend(
            ("line", PALETTE[i % len(PALETTE)], s.label) for i, s in enumerate(chart.series)
        )
    kinds = {shade.kind for shade in chart.shades}
    for kind, label in ((ShadeKind.TICKET, "ticket open"), (ShadeKind.MAINTENANCE, "maintenance")):
        if kind in kinds:
            items.append(("shade-" + kind.value, SHADE_COLOUR[kind], label))
    return items


def _legend_rows(items: list[tuple[str, str, str]]) -> list[list[tuple[float, str, str, str]]]:
    rows: list[list[tuple[float, str, str, str]]] = []
    x = float(LEFT)
    for swatch, colour, label in items:
        shown = label if len(label) <= 40 else label[:39] + "…"
        width = 16 + CHAR_WIDTH * len(shown) + 12
        if not rows or x + width > WIDTH - RIGHT:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((x, swatch, colour, shown))
        x += width
    return rows


def _legend(rows: list[list[tuple[float, str, str, str]]], top: float) -> list[str]:
    if not rows:
        return []
    parts = ['<g class="legend">']
    for index, row in enumerate(rows):
        y = top + index * LEGEND_ROW + LEGEND_ROW / 2
        for x, swatch, colour, label in row:
            if swatch == "line":
                mark = (
                    f'<line x1="{_n(x)}" x2="{_n(x + 12)}" y1="{_n(y)}" y2="{_n(y)}" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
            else:
                opacity = SHADE_OPACITY[ShadeKind(swatch.removeprefix("shade-"))]
                mark = (
                    f'<rect x="{_n(x)}" y="{_n(y - 5)}" width="12" height="10" fill="{colour}" '
                    f'fill-opacity="{opacity}"/>'
                )
            parts.append(
                f'{mark}<text x="{_n(x + 16)}" y="{_n(y)}" dy="0.32em" fill="{INK}">'
                f"{_text(label)}</text>"
            )
    parts.append("</g>")
    return parts


def _describe(chart: Chart, visible: list[list[_Sample]]) -> str:
    """The chart in words, for a screen reader and for anyone without the picture."""
    unit = chart.unit

    def when(instant: datetime) -> str:
        try:
            return aware(instant).astimezone(chart.zone).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, ValueError, OSError):
            return "?"

    sentences = [f"{chart.title} from {when(chart.start)} to {when(chart.end)}."]
    for series, points in zip(chart.series, visible, strict=True):
        values = [p.value for p in points if p.value is not None]
        name = series.label or chart.title
        if not values:
            sentences.append(f"{name}: no data.")
            continue
        sentences.append(
            f"{name}: lowest {format_value(min(values), unit)}, "
            f"highest {format_value(max(values), unit)}, "
            f"latest {format_value(values[-1], unit)}."
        )
    for threshold in chart.thresholds:
        value = _finite(threshold.value)
        if value is not None:
            sentences.append(
                f"{threshold.level.value.capitalize()} at {format_value(value, unit)}."
            )
    tickets = sum(1 for s in chart.shades if s.kind is ShadeKind.TICKET)
    windows = sum(1 for s in chart.shades if s.kind is ShadeKind.MAINTENANCE)
    if tickets:
        sentences.append(f"{tickets} ticket{'s' if tickets != 1 else ''} shaded.")
    if windows:
        sentences.append(f"{windows} maintenance window{'s' if windows != 1 else ''} shaded.")
    return " ".join(sentences)
