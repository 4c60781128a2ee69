"""The health report's figures, as a pure function of a period's history: no store, no clock.

``build_report`` turns each check's ``CheckHistory`` (state counts per rollup bucket, latency
percentiles per month, tickets, maintenance windows, certificate and blocklist figures) into a
``CheckReport``; the renderers (``markdown``, ``html``, ``pdf``) only lay these figures out.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from mailwatch.domain.tickets import Ticket

MONTHLY_MAX_DAYS = 31
"""A period up to this long gets the monthly layout (daily bars); a longer one the yearly."""

RENEWAL_JUMP_DAYS = 1.0
"""A certificate's days left rising by more than this between two readings is a renewal (a
reading only ever falls by the time between them while the certificate stays the same)."""

TOP_STAGES = 5


class Layout(enum.StrEnum):
    """Monthly: one bar per day; yearly: one bar per month and a checks × months table."""

    MONTHLY = "monthly"
    YEARLY = "yearly"


def layout_for(start: datetime, end: datetime) -> Layout:
    """The layout a period gets unless one is asked for."""
    days = (end - start).total_seconds() / 86400
    return Layout.MONTHLY if days <= MONTHLY_MAX_DAYS else Layout.YEARLY


# --- what the report is built from -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """One rollup bucket of a check's results: how many ended in each state, and the failed
    ones by stage."""

    start: datetime
    width_s: float
    ok: int = 0
    warning: int = 0
    critical: int = 0
    unknown: int = 0
    stages: Mapping[str, int] = field(default_factory=dict)

    @property
    def known(self) -> int:
        """Results that said whether the check worked (unknown ones could not tell)."""
        return self.ok + self.warning + self.critical


@dataclass(frozen=True, slots=True)
class Percentiles:
    """A latency figure over one month, from the merged sketch of its buckets."""

    month: date
    count: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float


@dataclass(frozen=True, slots=True)
class Sample:
    """A figure's value at a time (a rollup bucket's start and its min, max or mean)."""

    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Window:
    """One occurrence of a ``[[maintenance]]`` window covering the check."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CheckHistory:
    """Everything the report says about one check over the period, as the loader read it."""

    name: str
    kind: str
    target: str
    states: Sequence[BucketCounts] = ()
    latency_figure: str | None = None
    latency: Sequence[Percentiles] = ()
    maintenance: Sequence[Window] = ()
    tickets: Sequence[Ticket] = ()
    interval_s: float = 0.0
    """How often the check runs: a bucket with results stands for this long (at least its
    width), as the check said nothing more until its next run."""
    days_left: Sequence[Sample] = ()
    """tls checks: the certificate's days left, one reading per bucket (its minimum)."""
    listings: Sequence[Sample] = ()
    """dnsbl checks: listings per bucket (its maximum)."""


# --- what the report says -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    """Time over a period: ``period_s`` = ``maintenance_s`` + ``measured_s`` +
    ``unmeasured_s``; of the measured time ``down_s`` had critical results and ``degraded_s``
    warnings. ``ratio`` is 1 − down/measured, None when nothing was measured."""

    period_s: float
    maintenance_s: float
    measured_s: float
    down_s: float
    degraded_s: float

    @property
    def unmeasured_s(self) -> float:
        return max(0.0, self.period_s - self.maintenance_s - self.measured_s)

    @property
    def ratio(self) -> float | None:
        if self.measured_s <= 0:
            return None
        return 1.0 - self.down_s / self.measured_s


@dataclass(frozen=True, slots=True)
class PeriodAvailability:
    """One bar of the availability chart: a day (monthly layout) or a month (yearly)."""

    start: datetime
    end: datetime
    label: str
    availability: Availability


class Outcome(enum.StrEnum):
    MET = "met"
    BREACHED = "breached"
    OPEN = "open"
    """The clock still runs at the report's time."""
    NO_TARGET = "no target"


@dataclass(frozen=True, slots=True)
class TicketLine:
    ticket: Ticket
    response: Outcome
    resolution: Outcome
    to_acknowledge_s: float | None
    to_resolve_s: float | None
    in_maintenance: bool


@dataclass(frozen=True, slots=True)
class SlaCounts:
    response: Mapping[Outcome, int]
    resolution: Mapping[Outcome, int]


@dataclass(frozen=True, slots=True)
class Renewal:
    at: datetime
    days_before: float
    days_after: float


@dataclass(frozen=True, slots=True)
class Episode:
    """A span a figure stayed bad: expired certificate (days left ≤ 0) or blocklisted
    (listings > 0). ``end`` None: still so at the period's end."""

    start: datetime
    end: datetime | None
    peak: float


@dataclass(frozen=True, slots=True)
class CheckReport:
    name: str
    kind: str
    target: str
    availability: Availability
    bars: Sequence[PeriodAvailability]
    months: Sequence[PeriodAvailability]
    latency_figure: str | None
    latency: Sequence[Percentiles]
    maintenance: Sequence[Window]
    tickets: Sequence[TicketLine]
    sla: SlaCounts
    mtta_s: float | None
    mttr_s: float | None
    stages: Sequence[tuple[str, int]]
    renewals: Sequence[Renewal]
    expiries: Sequence[Episode]
    expires_at: datetime | None
    """The certificate's end as last read (reading time + days left)."""
    blocklisted: Sequence[Episode]
    days_left: Sequence[Sample] = ()
    """The certificate's days left, one reading a day (the day's lowest), for its chart."""
    listings: Sequence[Sample] = ()
    """Blocklist listings, one reading a day (the day's highest), for its chart."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    start: datetime
    end: datetime
    layout: Layout
    zone: tzinfo
    generated_at: datetime
    checks: Sequence[CheckReport]
    ticket_prefix: str = "MW-"


# --- building it ----------------------------------------------------------------------------


def build_report(
    histories: Iterable[CheckHistory],
    start: datetime,
    end: datetime,
    *,
    zone: tzinfo = UTC,
    layout: Layout | None = None,
    now: datetime,
    ticket_prefix: str = "MW-",
) -> HealthReport:
    """The report of ``[start, end)``; ``now`` decides which SLA clocks still run; days and
    months are those of ``zone``."""
    if end <= start:
        raise ValueError("the period's end must be after its start")
    chosen = layout or layout_for(start, end)
    months = _calendar_periods(start, end, zone, monthly=True)
    bars = (
        _calendar_periods(start, end, zone, monthly=False) if chosen is Layout.MONTHLY else months
    )
    checks = [_check_report(h, start, end, bars, months, now) for h in histories]
    return HealthReport(start, end, chosen, zone, now, checks, ticket_prefix)


def _calendar_periods(
    start: datetime, end: datetime, zone: tzinfo, *, monthly: bool
) -> list[tuple[datetime, datetime, str]]:
    """The days or months of ``zone`` that ``[start, end)`` touches, clipped to it."""
    local = start.astimezone(zone)
    day = local.date().replace(day=1) if monthly else local.date()
    found = []
    while True:
        following = _next_month(day) if monthly else day + timedelta(days=1)
        lo = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        hi = datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)
        if lo >= end:
            break
        label = day.strftime("%Y-%m") if monthly else day.isoformat()
        found.append((max(lo, start), min(hi, end), label))
        day = following
    return found


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _merged(windows: Iterable[Window], start: datetime, end: datetime) -> list[tuple[float, float]]:
    """The windows as disjoint, sorted (start, end) POSIX times, clipped to the period."""
    spans = sorted(
        (max(w.start, start).timestamp(), min(w.end, end).timestamp())
        for w in windows
        if w.end > start and w.start < end
    )
    merged: list[tuple[float, float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _overlap(spans: list[tuple[float, float]], starts: list[float], lo: float, hi: float) -> float:
    """Seconds of ``[lo, hi)`` inside ``spans`` (``starts``: their start times, for bisect)."""
    total = 0.0
    i = max(0, bisect.bisect_right(starts, lo) - 1)
    while i < len(spans) and spans[i][0] < hi:
        s_lo, s_hi = spans[i]
        total += max(0.0, min(hi, s_hi) - max(lo, s_lo))
        i += 1
    return total


def _availability(
    states: Sequence[BucketCounts],
    spans: list[tuple[float, float]],
    lo: datetime,
    hi: datetime,
    interval_s: float = 0.0,
) -> Availability:
    """Availability of ``[lo, hi)`` from the buckets starting in it. A bucket's time outside
    maintenance is split between down, degraded and up in the ratio of its results (unknown
    results left out: they could not tell). ``states``: sorted by start."""
    starts = [s for s, _ in spans]
    lo_t, hi_t = lo.timestamp(), hi.timestamp()
    measured = down = degraded = 0.0
    for i, bucket in enumerate(states):
        b_lo = bucket.start.timestamp()
        if not lo_t <= b_lo < hi_t or bucket.known == 0:
            continue
        # A check run less often than the buckets are wide speaks for its whole interval, up
        # to the next bucket with results.
        following = states[i + 1].start.timestamp() if i + 1 < len(states) else hi_t
        reach = b_lo + max(bucket.width_s, min(interval_s, following - b_lo))
        b_hi = min(reach, hi_t)
        kept = (b_hi - b_lo) - _overlap(spans, starts, b_lo, b_hi)
        if kept <= 0:
            continue
        measured += kept
        down += kept * bucket.critical / bucket.known
        degraded += kept * bucket.warning / bucket.known
    maintenance = _overlap(spans, starts, lo_t, hi_t)
    return Availability(hi_t - lo_t, maintenance, measured, down, degraded)


def _periods(
    history: CheckHistory,
    spans: list[tuple[float, float]],
    periods: Sequence[tuple[datetime, datetime, str]],
) -> list[PeriodAvailability]:
    # Each bucket belongs to the period its start falls in: sort once, slice by bisect.
    states = sorted(history.states, key=lambda b: b.start)
    keys = [b.start for b in states]
    found = []
    for lo, hi, label in periods:
        inside = states[bisect.bisect_left(keys, lo) : bisect.bisect_left(keys, hi)]
        found.append(
            PeriodAvailability(
                lo, hi, label, _availability(inside, spans, lo, hi, history.interval_s)
            )
        )
    return found


def _total(parts: Sequence[PeriodAvailability], start: datetime, end: datetime) -> Availability:
    return Availability(
        (end - start).total_seconds(),
        sum(p.availability.maintenance_s for p in parts),
        sum(p.availability.measured_s for p in parts),
        sum(p.availability.down_s for p in parts),
        sum(p.availability.degraded_s for p in parts),
    )


def response_outcome(ticket: Ticket, now: datetime) -> Outcome:
    """Whether the ticket's response came in time under its plan: acknowledging (or
    mitigating) by ``response_due``; a ticket that recovered unacknowledged before the
    deadline broke no promise."""
    due = ticket.response_due
    if due is None:
        return Outcome.NO_TARGET
    if ticket.response_breached:
        return Outcome.BREACHED
    done = ticket.acknowledged_at or ticket.resolved_at
    if done is not None:
        return Outcome.MET if done <= due else Outcome.BREACHED
    return Outcome.BREACHED if now > due else Outcome.OPEN


def resolution_outcome(ticket: Ticket, now: datetime) -> Outcome:
    """Whether a workaround (mitigated) or the resolution came by ``resolution_due``."""
    due = ticket.resolution_due
    if due is None:
        return Outcome.NO_TARGET
    if ticket.resolution_breached:
        return Outcome.BREACHED
    done = ticket.mitigated_at or ticket.resolved_at
    if done is not None:
        return Outcome.MET if done <= due else Outcome.BREACHED
    return Outcome.BREACHED if now > due else Outcome.OPEN


def _ticket_line(ticket: Ticket, spans: list[tuple[float, float]], now: datetime) -> TicketLine:
    opened = ticket.opened_at.timestamp()
    ack = ticket.acknowledged_at
    resolved = ticket.resolved_at
    return TicketLine(
        ticket=ticket,
        response=response_outcome(ticket, now),
        resolution=resolution_outcome(ticket, now),
        to_acknowledge_s=None if ack is None else (ack - ticket.opened_at).total_seconds(),
        to_resolve_s=None if resolved is None else (resolved - ticket.opened_at).total_seconds(),
        in_maintenance=any(lo <= opened < hi for lo, hi in spans),
    )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _renewals(samples: Sequence[Sample]) -> list[Renewal]:
    ordered = sorted(samples, key=lambda s: s.at)
    return [
        Renewal(after.at, before.value, after.value)
        for before, after in itertools.pairwise(ordered)
        if after.value - before.value > RENEWAL_JUMP_DAYS
    ]


def _episodes(samples: Sequence[Sample], bad: float, *, above: bool) -> list[Episode]:
    """Runs of readings beyond ``bad`` (above it, or at or below it)."""
    found: list[Episode] = []
    current: tuple[datetime, float] | None = None
    for sample in sorted(samples, key=lambda s: s.at):
        is_bad = sample.value > bad if above else sample.value <= bad
        if is_bad:
            if current is None:
                current = (sample.at, sample.value)
            else:
                worse = max if above else min
                current = (current[0], worse(current[1], sample.value))
        elif current is not None:
            found.append(Episode(current[0], sample.at, current[1]))
            current = None
    if current is not None:
        found.append(Episode(current[0], None, current[1]))
    return found


def _check_report(
    history: CheckHistory,
    start: datetime,
    end: datetime,
    bar_periods: Sequence[tuple[datetime, datetime, str]],
    month_periods: Sequence[tuple[datetime, datetime, str]],
    now: datetime,
) -> CheckReport:
    spans = _merged(history.maintenance, start, end)
    months = _periods(history, spans, month_periods)
    bars = months if bar_periods is month_periods else _periods(history, spans, bar_periods)
    tickets = sorted(
        (t for t in history.tickets if start <= t.opened_at < end), key=lambda t: t.opened_at
    )
    lines = [_ticket_line(t, spans, now) for t in tickets]
    response = Counter(line.response for line in lines)
    resolution = Counter(line.resolution for line in lines)
    stages: Counter[str] = Counter()
    for bucket in history.states:
        if start <= bucket.start < end:
            stages.update(bucket.stages)
    days_left = sorted(history.days_left, key=lambda s: s.at)
    expires_at = None
    if days_left:
        expires_at = days_left[-1].at + timedelta(days=days_left[-1].value)
    windows = sorted(
        (w for w in history.maintenance if w.end > start and w.start < end), key=lambda w: w.start
    )
    return CheckReport(
        name=history.name,
        kind=history.kind,
        target=history.target,
        availability=_total(months, start, end),
        bars=bars,
        months=months,
        latency_figure=history.latency_figure,
        latency=sorted(history.latency, key=lambda p: p.month),
        maintenance=windows,
        tickets=lines,
        sla=SlaCounts(dict(response), dict(resolution)),
        mtta_s=_mean(line.to_acknowledge_s for line in lines),
        mttr_s=_mean(line.to_resolve_s for line in lines),
        stages=[(stage, n) for stage, n in stages.most_common(TOP_STAGES) if n > 0],
        renewals=_renewals(days_left),
        expiries=_episodes(days_left, 0.0, above=False),
        expires_at=expires_at,
        blocklisted=_episodes(history.listings, 0.0, above=True),
        days_left=_daily(days_left, min),
        listings=_daily(history.listings, max),
    )


def _daily(samples: Sequence[Sample], pick: Callable[[float, float], float]) -> list[Sample]:
    """One reading per UTC day (a year's chart needs no more), ``pick`` choosing which."""
    days: dict[date, Sample] = {}
    for sample in samples:
        day = sample.at.astimezone(UTC).date()
        found = days.get(day)
        days[day] = sample if found is None else Sample(found.at, pick(found.value, sample.value))
    return [days[day] for day in sorted(days)]
