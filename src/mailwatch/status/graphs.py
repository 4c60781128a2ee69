"""A check's graphs over one range (1 h to 1 year): its kind's figures from the history
(``store.history``), as charts with the check's warning and critical lines, its tickets and
maintenance windows shaded; and the same data as JSON.

The catalogue (``charts.catalogue``) says which figures each kind draws; this module reads
them in one transaction and builds ``charts.Chart`` values; ``web/graphs.py`` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.charts import Chart, Level, Point, Series, Shade, ShadeKind, Threshold
from mailwatch.charts.catalogue import AVAILABILITY, GraphSpec, Stat, graphs_for, series_for
from mailwatch.config import MailwatchConfig
from mailwatch.config.checks import CheckBase
from mailwatch.domain.history import FINE_WIDTH_S, HOUR_WIDTH_S, FigureBucket
from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import iso
from mailwatch.store.history import availability_series, check_figures, figure_series
from mailwatch.store.store import Store
from mailwatch.store.tickets import tickets_overlapping


@dataclass(frozen=True, slots=True)
class GraphRange:
    """A range a check's graphs cover, up to now, and the bucket width they are drawn at."""

    key: str
    label: str
    span_s: int
    width_s: int


RANGES: tuple[GraphRange, ...] = (
    GraphRange("1h", "1 hour", 3600, FINE_WIDTH_S),
    GraphRange("24h", "24 hours", 86400, FINE_WIDTH_S),
    GraphRange("7d", "7 days", 7 * 86400, HOUR_WIDTH_S),
    GraphRange("30d", "30 days", 30 * 86400, HOUR_WIDTH_S),
    GraphRange("1y", "1 year", 365 * 86400, 86400),
)
"""1 h and 24 h from the 5-minute buckets, 7 d and 30 d from the hourly ones, a year from
days merged from the hourly ones."""

DEFAULT_RANGE = RANGES[1]


def range_named(key: str | None) -> GraphRange:
    """The range ``key`` names (``?range=30d``); the default for None or anything else."""
    return next((r for r in RANGES if r.key == key), DEFAULT_RANGE)


@dataclass(frozen=True, slots=True)
class Graph:
    """One graph of a check: what the catalogue says it is, and its chart."""

    spec: GraphSpec
    chart: Chart
    width_s: int


async def read_graphs(
    store: Store,
    config: MailwatchConfig,
    check: CheckBase,
    graph_range: GraphRange,
    now: datetime,
    zone: tzinfo | None,
) -> list[Graph]:
    """The graphs of ``check`` over ``graph_range`` up to ``now``, in catalogue order; a graph
    whose figures the check has no history of is left out (availability always stays)."""
    end = now
    start = now - timedelta(seconds=graph_range.span_s)
    width = graph_range.width_s
    # A check that runs less often than the buckets are wide leaves buckets empty between
    # its runs: those are no gap in its line; a bucket missing beyond its interval is.
    step_s = max(float(width), check.interval_s)
    async with store.read() as conn:
        figures = await check_figures(conn, check.name)
        tickets = await tickets_overlapping(conn, check.name, start, end)
        graphs: list[Graph] = []
        for spec in graphs_for(check.kind):
            if spec is AVAILABILITY:
                series = [await _availability(conn, check.name, start, end, width, step_s)]
            else:
                wanted = series_for(spec, check.kind, figures)
                if not wanted:
                    continue
                series = [
                    _series(
                        await figure_series(conn, check.name, s.figure, start, end, width),
                        s.label,
                        spec.stat,
                        band=len(wanted) == 1,
                        step_s=step_s,
                        end=end,
                    )
                    for s in wanted
                ]
            graphs.append(Graph(spec, _chart(spec, check, series, start, end, zone), width))
    prefix = config.incidents.ticket_prefix
    shades = [
        Shade(
            ShadeKind.TICKET,
            t.opened_at,
            t.resolved_at,
            f"{format_number(t.number, prefix)} severity {t.severity}: {t.last_summary}",
        )
        for t in tickets
    ]
    for window in config.maintenance:
        if window.covers(check.name):
            shades.extend(
                Shade(ShadeKind.MAINTENANCE, opens, closes, f"maintenance {window.name}")
                for opens, closes in window.occurrences(start, end)
            )
    return [
        Graph(g.spec, _with_shades(g.chart, shades, graph_range, check.name), g.width_s)
        for g in graphs
    ]


def _mid(start: datetime, width_s: int, end: datetime) -> datetime:
    """Where a bucket is drawn: its middle, or ``end`` (now) for the bucket still filling."""
    return min(start + timedelta(seconds=width_s / 2), end)


def _series(
    buckets: Sequence[FigureBucket],
    label: str,
    stat: Stat,
    *,
    band: bool,
    step_s: float,
    end: datetime,
) -> Series:
    points = []
    for bucket in buckets:
        value = bucket.max if stat is Stat.MAX else bucket.mean
        with_band = band and stat is Stat.MEAN
        points.append(
            Point(
                _mid(bucket.start, bucket.width_s, end),
                value,
                bucket.min if with_band else None,
                bucket.max if with_band else None,
            )
        )
    return Series(label, points, step_s)


async def _availability(
    conn: AsyncConnection, check: str, start: datetime, end: datetime, width_s: int, step_s: float
) -> Series:
    buckets = await availability_series(conn, check, start, end, width_s)
    points = [
        Point(_mid(b.start, b.width_s, end), 100.0 * b.states.ok / b.count)
        for b in buckets
        if b.count
    ]
    return Series(AVAILABILITY.plots[0].label, points, step_s)


def _chart(
    spec: GraphSpec,
    check: CheckBase,
    series: list[Series],
    start: datetime,
    end: datetime,
    zone: tzinfo | None,
) -> Chart:
    thresholds = [
        Threshold(level, value)
        for level, key in ((Level.WARNING, spec.warning), (Level.CRITICAL, spec.critical))
        if (value := spec.level(check, key)) is not None
    ]
    return Chart(spec.title, spec.unit, start, end, tuple(series), tuple(thresholds), (), zone)


def _with_shades(chart: Chart, shades: list[Shade], graph_range: GraphRange, check: str) -> Chart:
    return Chart(
        chart.title,
        chart.unit,
        chart.start,
        chart.end,
        chart.series,
        chart.thresholds,
        tuple(shades),
        chart.zone,
        f"graph-{check}-{graph_range.key}-{chart.title}",
    )


def graph_json(graph: Graph) -> dict[str, Any]:
    """One graph as JSON: its series' points ``[instant, value, low, high]`` (the instant is
    the middle of the point's bucket of ``width_s``; low and high its min and max when the
    graph draws a band), its levels and its shaded spans."""
    chart = graph.chart
    return {
        "graph": graph.spec.ident,
        "title": chart.title,
        "unit": chart.unit,
        "start": iso(chart.start),
        "end": iso(chart.end),
        "width_s": graph.width_s,
        "series": [
            {
                "label": s.label,
                "points": [[iso(p.at), p.value, p.low, p.high] for p in s.points],
            }
            for s in chart.series
        ],
        "thresholds": {t.level.value: t.value for t in chart.thresholds},
        "shades": [
            {"kind": s.kind.value, "start": iso(s.start), "end": iso(s.end), "label": s.label}
            for s in chart.shades
        ],
    }
