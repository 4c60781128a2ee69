"""The report's text, as sections of lines, tables and charts that every format lays out alike:
Markdown leaves the charts out, HTML (and the PDF made from it) draws them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from mailwatch.charts import Chart, Point, Series, Shade, ShadeKind, render_svg
from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import SpanStyle, span
from mailwatch.report.model import (
    Availability,
    CheckReport,
    HealthReport,
    Layout,
    Outcome,
    PeriodAvailability,
    Sample,
    Window,
)


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    compact: bool = False
    """Many narrow columns (checks × months): HTML sets it small to fit a page."""


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
                compact=True,
            )
        )
        found.append(grid)
    return found


def _step_s(periods: Sequence[PeriodAvailability]) -> float:
    return max(((p.end - p.start).total_seconds() for p in periods), default=86400.0)


def _downtime_chart(check: CheckReport, report: HealthReport) -> str:
    """Down time per day (monthly layout) or month (yearly), tickets and maintenance shaded."""
    bars = check.bars
    per = "day" if report.layout is Layout.MONTHLY else "month"
    shades = [Shade(ShadeKind.MAINTENANCE, w.start, w.end, w.name) for w in check.maintenance]
    shades += [
        Shade(ShadeKind.TICKET, t.ticket.opened_at, t.ticket.resolved_at, "ticket")
        for t in check.tickets
    ]
    return render_svg(
        Chart(
            title=f"{check.name}: down time per {per}",
            unit="s",
            start=report.start,
            end=report.end,
            series=[
                Series(
                    "down",
                    [
                        Point(p.start, p.availability.down_s if p.availability.measured_s else None)
                        for p in bars
                    ],
                    _step_s(bars),
                )
            ],
            shades=shades,
            zone=report.zone,
            ident=f"down-{check.name}",
        )
    )


def _latency_chart(check: CheckReport, report: HealthReport) -> str:
    starts = [_month_start(p.month, report) for p in check.latency]
    points = {
        "p50": [Point(at, p.p50) for at, p in zip(starts, check.latency, strict=True)],
        "p95": [Point(at, p.p95) for at, p in zip(starts, check.latency, strict=True)],
        "p99": [Point(at, p.p99) for at, p in zip(starts, check.latency, strict=True)],
    }
    return render_svg(
        Chart(
            title=f"{check.name}: {check.latency_figure} by month",
            unit="s",
            start=report.start,
            end=report.end,
            series=[Series(name, found, 32 * 86400) for name, found in points.items()],
            zone=report.zone,
            ident=f"latency-{check.name}",
        )
    )


def _month_start(month: date, report: HealthReport) -> datetime:
    at = datetime(month.year, month.month, 1, tzinfo=report.zone)
    return max(at, report.start)


def _figure_chart(
    check: CheckReport, report: HealthReport, label: str, unit: str, samples: Sequence[Sample]
) -> str:
    return render_svg(
        Chart(
            title=f"{check.name}: {label}",
            unit=unit,
            start=report.start,
            end=report.end,
            series=[Series(label, [Point(s.at, s.value) for s in samples], 3600 * 24)],
            zone=report.zone,
            ident=f"{unit}-{check.name}",
        )
    )


def _days(check: CheckReport) -> Table:
    """The monthly layout's days with anything to say."""
    return Table(
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
            if p.availability.down_s
            or p.availability.degraded_s
            or p.availability.maintenance_s
            or p.availability.unmeasured_s
        ],
    )


def _by_month(check: CheckReport) -> Table:
    """The yearly layout's months in one table: availability and latency side by side, and
    degraded or not measured time only when some month has any. Every table cell costs the
    PDF about half a millisecond, so a year of 20 checks keeps to what says something."""
    months = [p.availability for p in check.months]
    choices: list[tuple[str, Callable[[Availability], float]]] = [
        ("degraded", lambda a: a.degraded_s),
        ("not measured", lambda a: a.unmeasured_s),
    ]
    optional = [(title, pick) for title, pick in choices if any(pick(a) for a in months)]
    latency = {p.month.strftime("%Y-%m"): p for p in check.latency}
    rows = []
    for p in check.months:
        a = p.availability
        found = latency.get(p.label)
        rows.append(
            (
                p.label,
                percent(a.ratio),
                duration(a.down_s),
                duration(a.maintenance_s),
                *(duration(pick(a)) for _, pick in optional),
                *(
                    (figure(found.p50), figure(found.p95), figure(found.p99), figure(found.max))
                    if found
                    else ("-", "-", "-", "-")
                ),
            )
        )
    headers = ("month", "availability", "down", "maintenance", *(t for t, _ in optional))
    return Table((*headers, "p50", "p95", "p99", "max"), rows)


def check_sections(check: CheckReport, report: HealthReport) -> list[Section]:
    zone = report.zone
    head = Section(f"{check.name}", anchor=f"check-{check.name}")
    head.lines.append(f"Kind {check.kind}, target {check.target}.")
    head.lines.append(_availability_words(check.availability))
    if check.bars:
        head.charts.append(_downtime_chart(check, report))
    yearly = report.layout is Layout.YEARLY
    head.tables.append(_by_month(check) if yearly else _days(check))
    found = [head]

    if check.latency_figure is not None:
        latency = Section(f"Latency ({check.latency_figure}) by month", level=3)
        if check.latency and not yearly:
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
            latency.charts.append(_latency_chart(check, report))
        if not check.latency:
            latency.lines.append("No results in the period.")
        elif yearly:
            latency.lines.append("Its p50, p95, p99 and max by month are in the months' table.")
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
        by_name: dict[str, list[Window]] = {}
        for window in check.maintenance:
            by_name.setdefault(window.name, []).append(window)
        windows.tables.append(
            Table(
                ("window", "times", "in all", "first", "last"),
                [
                    (
                        name,
                        str(len(times)),
                        duration(sum((w.end - w.start).total_seconds() for w in times)),
                        when(times[0].start, zone),
                        when(times[-1].start, zone),
                    )
                    for name, times in by_name.items()
                ],
            )
        )
        found.append(windows)

    if check.kind == "tls":
        cert = Section("Certificate", level=3)
        cert.lines.append(
            f"Expires {when(check.expires_at, zone)} as last read; "
            f"{len(check.renewals)} renewal(s), {len(check.expiries)} time(s) expired."
        )
        if check.days_left:
            cert.charts.append(_figure_chart(check, report, "days left", "days", check.days_left))
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
        if check.listings:
            listed.charts.append(
                _figure_chart(check, report, "listings", "listings", check.listings)
            )
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
