"""The report's text, as sections of lines, tables and charts that every format lays out alike:
Markdown leaves the charts out, HTML (and the PDF made from it) draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import SpanStyle, span
from mailwatch.report.charts import bar_chart, line_chart
from mailwatch.report.model import (
    Availability,
    CheckReport,
    HealthReport,
    Layout,
    Outcome,
    PeriodAvailability,
)


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(slots=True)
class Section:
    title: str
    level: int = 2
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    """SVG, drawn by HTML only."""
    anchor: str = ""


def percent(ratio: float | None) -> str:
    """``99.954 %``: three decimals, since 0.001 % of a year is five minutes."""
    return "-" if ratio is None else f"{ratio * 100:.3f} %"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "0 s" if seconds < 1 else span(seconds, SpanStyle.AGE)


def figure(value: float, unit: str = "s") -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} {unit}".rstrip()


def when(instant: datetime | None, zone: tzinfo) -> str:
    if instant is None:
        return "-"
    shown = instant.astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M ") + (shown.tzname() or shown.strftime("%z"))


def period_title(report: HealthReport) -> str:
    last = (report.end - timedelta(microseconds=1)).astimezone(report.zone).date()
    first = report.start.astimezone(report.zone).date()
    return f"{first.isoformat()} to {last.isoformat()}"


def _availability_words(a: Availability) -> str:
    return (
        f"Availability {percent(a.ratio)}: down {duration(a.down_s)}, degraded (warnings) "
        f"{duration(a.degraded_s)} of {duration(a.measured_s)} measured; maintenance "
        f"{duration(a.maintenance_s)} left out; not measured {duration(a.unmeasured_s)}."
    )


def summary(report: HealthReport) -> list[Section]:
    rows = []
    for c in report.checks:
        resp, reso = c.sla.response, c.sla.resolution
        rows.append(
            (
                c.name,
                c.kind,
                percent(c.availability.ratio),
                duration(c.availability.down_s),
                duration(c.availability.maintenance_s),
                str(len(c.tickets)),
                f"{resp.get(Outcome.MET, 0)} / {resp.get(Outcome.BREACHED, 0)}",
                f"{reso.get(Outcome.MET, 0)} / {reso.get(Outcome.BREACHED, 0)}",
                duration(c.mtta_s),
                duration(c.mttr_s),
            )
        )
    headers = (
        "check",
        "kind",
        "availability",
        "down",
        "maintenance",
        "tickets",
        "response met / breached",
        "resolution met / breached",
        "MTTA",
        "MTTR",
    )
    first = Section("Summary", anchor="summary")
    first.lines.append(
        f"{len(report.checks)} check(s), {report.layout.value} layout; times in "
        f"{report.start.astimezone(report.zone).tzname()}; "
        f"written {when(report.generated_at, report.zone)}."
    )
    first.tables.append(Table(headers, rows))
    found = [first]
    if report.layout is Layout.YEARLY and report.checks:
        months = [p.label for p in report.checks[0].months]
        grid = Section("Availability by month", anchor="by-month")
        grid.tables.append(
            Table(
                ("check", *months),
                [
                    (c.name, *(percent(p.availability.ratio) for p in c.months))
                    for c in report.checks
                ],
            )
        )
        found.append(grid)
    return found


def _bars_chart(check: CheckReport, bars: Sequence[PeriodAvailability]) -> str:
    ratios = [p.availability.ratio for p in bars]
    present = [r for r in ratios if r is not None]
    lowest = min(present, default=1.0)
    # Start the axis where the worst bar still shows: 99 % .. 100 % for a good year.
    lo = 0.99 if lowest >= 0.99 else 0.9 if lowest >= 0.9 else 0.0
    labels = [p.label[5:] if len(p.label) > 7 else p.label for p in bars]
    return bar_chart(
        labels,
        [None if r is None else r * 100 for r in ratios],
        lo=lo * 100,
        hi=100.0,
        fmt="{:.2f} %" if lo else "{:.0f} %",
        title=f"{check.name}: availability per {'day' if len(labels[0]) == 5 else 'month'}"
        if labels
        else check.name,
    )


def check_sections(check: CheckReport, report: HealthReport) -> list[Section]:
    zone = report.zone
    head = Section(f"{check.name}", anchor=f"check-{check.name}")
    head.lines.append(f"Kind {check.kind}, target {check.target}.")
    head.lines.append(_availability_words(check.availability))
    if check.bars:
        head.charts.append(_bars_chart(check, check.bars))
    head.tables.append(
        Table(
            ("period", "availability", "down", "degraded", "maintenance", "not measured"),
            [
                (
                    p.label,
                    percent(p.availability.ratio),
                    duration(p.availability.down_s),
                    duration(p.availability.degraded_s),
                    duration(p.availability.maintenance_s),
                    duration(p.availability.unmeasured_s),
                )
                for p in check.bars
                if report.layout is Layout.YEARLY
                or p.availability.down_s
                or p.availability.maintenance_s
            ],
        )
    )
    found = [head]

    if check.latency_figure is not None:
        latency = Section(f"Latency ({check.latency_figure}) by month", level=3)
        if check.latency:
            latency.tables.append(
                Table(
                    ("month", "results", "p50", "p95", "p99", "mean", "max"),
                    [
                        (
                            p.month.strftime("%Y-%m"),
                            str(p.count),
                            figure(p.p50),
                            figure(p.p95),
                            figure(p.p99),
                            figure(p.mean),
                            figure(p.max),
                        )
                        for p in check.latency
                    ],
                )
            )
            if len(check.latency) > 1:
                labels = [p.month.strftime("%Y-%m") for p in check.latency]
                latency.charts.append(
                    line_chart(
                        labels,
                        [
                            ("p50", [p.p50 for p in check.latency]),
                            ("p95", [p.p95 for p in check.latency]),
                            ("p99", [p.p99 for p in check.latency]),
                        ],
                        fmt="{:.2f} s",
                        title=f"{check.name}: {check.latency_figure} percentiles by month",
                    )
                )
        else:
            latency.lines.append("No results in the period.")
        found.append(latency)

    tickets = Section(f"Tickets ({len(check.tickets)})", level=3)
    resp, reso = dict(check.sla.response), dict(check.sla.resolution)
    tickets.lines.append(
        f"Response met {resp.get(Outcome.MET, 0)}, breached {resp.get(Outcome.BREACHED, 0)}, "
        f"open {resp.get(Outcome.OPEN, 0)}, no target {resp.get(Outcome.NO_TARGET, 0)}; "
        f"resolution met {reso.get(Outcome.MET, 0)}, breached {reso.get(Outcome.BREACHED, 0)}, "
        f"open {reso.get(Outcome.OPEN, 0)}, no target {reso.get(Outcome.NO_TARGET, 0)}. "
        f"MTTA {duration(check.mtta_s)}, MTTR {duration(check.mttr_s)}."
    )
    if check.tickets:
        tickets.tables.append(
            Table(
                (
                    "ticket",
                    "severity",
                    "opened",
                    "plan",
                    "response",
                    "resolution",
                    "acknowledged after",
                    "resolved after",
                    "stage",
                ),
                [
                    (
                        format_number(t.ticket.number, report.ticket_prefix)
                        + (" (maintenance)" if t.in_maintenance else ""),
                        str(t.ticket.severity),
                        when(t.ticket.opened_at, zone),
                        t.ticket.plan or "none",
                        t.response.value,
                        t.resolution.value,
                        duration(t.to_acknowledge_s),
                        duration(t.to_resolve_s),
                        t.ticket.last_stage or "-",
                    )
                    for t in check.tickets
                ],
            )
        )
    found.append(tickets)

    if check.stages:
        stages = Section("Most frequent failure stages", level=3)
        stages.tables.append(
            Table(("stage", "failed results"), [(s, str(n)) for s, n in check.stages])
        )
        found.append(stages)

    if check.maintenance:
        windows = Section(f"Maintenance windows ({len(check.maintenance)})", level=3)
        windows.lines.append("Left out of availability.")
        shown = check.maintenance[:50]
        windows.tables.append(
            Table(
                ("window", "start", "end", "length"),
                [
                    (
                        w.name,
                        when(w.start, zone),
                        when(w.end, zone),
                        duration((w.end - w.start).total_seconds()),
                    )
                    for w in shown
                ],
            )
        )
        if len(check.maintenance) > len(shown):
            windows.lines.append(f"… and {len(check.maintenance) - len(shown)} more.")
        found.append(windows)

    if check.kind == "tls":
        cert = Section("Certificate", level=3)
        cert.lines.append(
            f"Expires {when(check.expires_at, zone)} as last read; "
            f"{len(check.renewals)} renewal(s), {len(check.expiries)} time(s) expired."
        )
        if check.renewals:
            cert.tables.append(
                Table(
                    ("renewed", "days left before", "days left after"),
                    [
                        (when(r.at, zone), f"{r.days_before:.1f}", f"{r.days_after:.1f}")
                        for r in check.renewals
                    ],
                )
            )
        if check.expiries:
            cert.tables.append(
                Table(
                    ("expired from", "until"),
                    [
                        (when(e.start, zone), when(e.end, zone) if e.end else "still expired")
                        for e in check.expiries
                    ],
                )
            )
        found.append(cert)

    if check.kind == "dnsbl":
        listed = Section(f"Blocklist episodes ({len(check.blocklisted)})", level=3)
        if check.blocklisted:
            listed.tables.append(
                Table(
                    ("listed from", "until", "length", "most listings"),
                    [
                        (
                            when(e.start, zone),
                            when(e.end, zone) if e.end else "still listed",
                            duration(((e.end or report.end) - e.start).total_seconds()),
                            f"{e.peak:g}",
                        )
                        for e in check.blocklisted
                    ],
                )
            )
        else:
            listed.lines.append("Not listed in the period.")
        found.append(listed)
    return found


def all_sections(report: HealthReport) -> list[Section]:
    found = summary(report)
    for check in report.checks:
        found += check_sections(check, report)
    return found
