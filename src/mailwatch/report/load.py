"""Reading a period's history for the health report: each check's 1-hour rollups (states,
latency, certificate and blocklist figures), its tickets, and the occurrences of the
``[[maintenance]]`` windows covering it, in one read transaction."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from mailwatch.config.checks.base import CheckBase
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.history import DURATION_FIGURE, HOUR_WIDTH_S, Sketch
from mailwatch.report.model import BucketCounts, CheckHistory, Percentiles, Sample, Window
from mailwatch.store.history_rows import (
    HourStates,
    PeriodFigure,
    figure_by_period,
    hourly_figure,
    hourly_states,
)
from mailwatch.store.store import Store
from mailwatch.store.tickets import tickets_opened_between

LATENCY_FIGURES = {
    "roundtrip": "latency_s",
    "mx": "connect_s",
    "dnsbl": "lookup_s",
    "tls": "handshake_s",
    "service": "connect_s",
}
"""The figure whose percentiles the report shows per kind; other kinds show how long their
runs took (``duration_s``)."""

DAYS_LEFT = "days_left"
LISTINGS = "listings"


def month_starts(start: datetime, end: datetime, zone: tzinfo) -> list[datetime]:
    """The first instants of the months of ``zone`` that [start, end) touches (the first
    clipped to ``start``), in UTC."""
    local = start.astimezone(zone).date().replace(day=1)
    found = [start]
    while True:
        local = date(local.year + local.month // 12, local.month % 12 + 1, 1)
        at = datetime(local.year, local.month, 1, tzinfo=zone).astimezone(UTC)
        if at >= end:
            return found
        found.append(at)


def monthly_percentiles(
    months: Sequence[PeriodFigure], starts: Sequence[datetime], zone: tzinfo
) -> list[Percentiles]:
    """Each month's p50, p95 and p99 read from the sum of its hours' sketches
    (``figure_by_period`` over ``month_starts``): within the sketch's relative error
    (``domain.history.RELATIVE_ERROR``) of the true percentiles of the month's values."""
    found = []
    for month in months:
        if month.count == 0:
            continue
        sketch = Sketch(month.bins)
        p50, p95, p99 = (sketch.quantile(q) for q in (0.5, 0.95, 0.99))
        assert p50 is not None and p95 is not None and p99 is not None
        first = starts[month.index].astimezone(zone).date()
        found.append(
            Percentiles(
                date(first.year, first.month, 1),
                month.count,
                min(p50, month.max),
                min(p95, month.max),
                min(p99, month.max),
                month.total / month.count,
                month.max,
            )
        )
    return found


def day_starts(start: datetime, end: datetime, zone: tzinfo) -> list[float]:
    """The first instants of the days of ``zone`` that [start, end) touches (the first
    clipped to ``start``), as POSIX seconds."""
    day = start.astimezone(zone).date()
    found = [start.timestamp()]
    while True:
        day += timedelta(days=1)
        at = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        if at >= end.timestamp():
            return found
        found.append(at)


def compact_states(
    hours: Sequence[HourStates], days_s: Sequence[float], interval_s: float
) -> list[BucketCounts]:
    """The hours as the report's buckets, each run of consecutive hours with ok results only
    (no warning, critical or failure stage) inside one day of ``days_s`` (``day_starts``)
    becoming one bucket as wide as the run. The report's figures stay the same: such an hour
    is measured time minus maintenance, none of it down or degraded, whether alone or in a
    run, and a run never crosses a day or month; a year of a healthy check is then about 400
    buckets instead of 8,760. A check run less often than hourly is left as it is: its last
    bucket before a gap speaks for its whole interval."""
    if interval_s > HOUR_WIDTH_S:
        return [_bucket(h, HOUR_WIDTH_S) for h in hours]
    found: list[BucketCounts] = []
    run: list[HourStates] = []
    run_day = -1
    for hour in hours:
        clean = hour.ok > 0 and not (hour.warning or hour.critical or hour.stages)
        day = bisect.bisect_right(days_s, hour.start_s) - 1
        if run and not (
            clean and day == run_day and hour.start_s == run[-1].start_s + HOUR_WIDTH_S
        ):
            found.append(_run_bucket(run))
            run = []
        if clean:
            run.append(hour)
            run_day = day
        else:
            found.append(_bucket(hour, HOUR_WIDTH_S))
    if run:
        found.append(_run_bucket(run))
    return found


def _bucket(hour: HourStates, width_s: float) -> BucketCounts:
    return BucketCounts(
        _at(hour.start_s),
        width_s,
        hour.ok,
        hour.warning,
        hour.critical,
        hour.unknown,
        hour.stages,
    )


def _run_bucket(run: Sequence[HourStates]) -> BucketCounts:
    return BucketCounts(
        _at(run[0].start_s),
        len(run) * HOUR_WIDTH_S,
        ok=sum(h.ok for h in run),
        unknown=sum(h.unknown for h in run),
    )


def _at(start_s: int) -> datetime:
    return datetime.fromtimestamp(start_s, UTC)


def _windows(config: MailwatchConfig, check: str, start: datetime, end: datetime) -> list[Window]:
    return [
        Window(window.name, lo, hi)
        for window in config.maintenance
        if window.covers(check)
        for lo, hi in window.occurrences(start, end)
    ]


def latency_figure(check: CheckBase) -> str:
    return LATENCY_FIGURES.get(check.kind, DURATION_FIGURE)


async def load_histories(
    store: Store,
    config: MailwatchConfig,
    checks: Sequence[CheckBase],
    start: datetime,
    end: datetime,
    zone: tzinfo,
) -> list[CheckHistory]:
    """What ``report.model.build_report`` needs of ``checks`` over [start, end)."""
    starts = month_starts(start, end, zone)
    days_s = day_starts(start, end, zone)
    found = []
    async with store.read() as conn:
        tickets = await tickets_opened_between(conn, start, end, [c.name for c in checks])
        for check in checks:
            hourly = await hourly_states(conn, check.name, start, end)
            states = compact_states(hourly, days_s, check.interval_s)
            figure = latency_figure(check)
            latency = await figure_by_period(conn, check.name, figure, starts, end)
            days_left: list[Sample] = []
            listings: list[Sample] = []
            if check.kind == "tls":
                hours = await hourly_figure(conn, check.name, DAYS_LEFT, start, end, sketch=False)
                days_left = [Sample(_at(h.start_s), h.min) for h in hours]
            if check.kind == "dnsbl":
                hours = await hourly_figure(conn, check.name, LISTINGS, start, end, sketch=False)
                listings = [Sample(_at(h.start_s), h.max) for h in hours]
            found.append(
                CheckHistory(
                    name=check.name,
                    kind=check.kind,
                    target=check.target,
                    states=states,
                    latency_figure=figure,
                    latency=monthly_percentiles(latency, starts, zone),
                    maintenance=_windows(config, check.name, start, end),
                    tickets=[t for t in tickets if t.check == check.name],
                    interval_s=check.interval_s,
                    days_left=days_left,
                    listings=listings,
                )
            )
    return found
