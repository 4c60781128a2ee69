"""The health report's figures from a year of history with known outages, maintenance windows
and tickets, against values worked out by hand (``mailwatch.report.model``, pure: no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailwatch.config.maintenance import MaintenanceWindowConfig
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.report.model import (
    BucketCounts,
    CheckHistory,
    Layout,
    Outcome,
    Percentiles,
    Sample,
    Window,
    build_report,
    layout_for,
)

YEAR = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
NOW = datetime(2026, 1, 5, tzinfo=UTC)

SUNDAYS = MaintenanceWindowConfig.model_validate(
    {"name": "sunday", "days": ["sun"], "from": "02:00", "to": "04:00", "timezone": "UTC"}
)


def windows() -> list[Window]:
    return [Window("sunday", lo, hi) for lo, hi in SUNDAYS.occurrences(YEAR, END)]


def hourly_year() -> list[BucketCounts]:
    """60 results an hour; critical all through every Sunday window (left out), a 3-hour
    outage on 10 March, half an hour on 1 July, an hour of warnings on 5 May, and 6 hours of
    no results on 1 September."""
    maintenance = {lo for lo, _ in SUNDAYS.occurrences(YEAR, END)}
    maintenance |= {lo + HOUR for lo in maintenance}
    outage = {datetime(2025, 3, 10, h, tzinfo=UTC) for h in (10, 11, 12)}
    half = datetime(2025, 7, 1, 8, tzinfo=UTC)
    warned = datetime(2025, 5, 5, 12, tzinfo=UTC)
    gap_start = datetime(2025, 9, 1, tzinfo=UTC)
    buckets = []
    at = YEAR
    while at < END:
        if gap_start <= at < gap_start + 6 * HOUR:
            pass
        elif at in maintenance or at in outage:
            buckets.append(BucketCounts(at, 3600, critical=60, stages={"smtp_connect": 60}))
        elif at == half:
            buckets.append(BucketCounts(at, 3600, ok=30, critical=30, stages={"mx_lookup": 30}))
        elif at == warned:
            buckets.append(BucketCounts(at, 3600, warning=60))
        else:
            buckets.append(BucketCounts(at, 3600, ok=59, unknown=1))
        at += HOUR
    return buckets


def ticket(number: int, opened: datetime, **fields: object) -> Ticket:
    values: dict[str, object] = {
        "number": number,
        "dedup_key": "mx-main|example.org",
        "check": "mx-main",
        "target": "example.org",
        "severity": 2,
        "status": TicketStatus.RESOLVED,
        "opened_at": opened,
        "plan": "gold",
        "response_due": opened + timedelta(minutes=30),
        "resolution_due": opened + timedelta(hours=4),
    }
    values.update(fields)
    return Ticket(**values)  # type: ignore[arg-type]


def tickets() -> list[Ticket]:
    t1 = datetime(2025, 3, 10, 10, tzinfo=UTC)
    t2 = datetime(2025, 7, 1, 8, tzinfo=UTC)
    t3 = datetime(2025, 11, 2, 2, 30, tzinfo=UTC)  # a Sunday, inside the window
    t4 = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    before = datetime(2024, 12, 31, 22, tzinfo=UTC)
    return [
        # Acknowledged after 10 min, resolved after 3 h: both met.
        ticket(1, t1, acknowledged_at=t1 + timedelta(minutes=10), resolved_at=t1 + 3 * HOUR),
        # Acknowledged after 45 min (30 promised), mitigated after 5 h (4 h promised).
        ticket(
            2,
            t2,
            acknowledged_at=t2 + timedelta(minutes=45),
            response_breached=True,
            mitigated_at=t2 + 5 * HOUR,
            resolved_at=t2 + 6 * HOUR,
            resolution_due=t2 + timedelta(minutes=45) + 4 * HOUR,
        ),
        # Recovered unacknowledged after 20 min: no promise broken.
        ticket(3, t3, resolved_at=t3 + timedelta(minutes=20)),
        # Still open at the report's time, response due long ago, resolution not yet.
        ticket(
            4,
            t4,
            status=TicketStatus.TRIGGERED,
            response_due=t4 + timedelta(minutes=30),
            resolution_due=NOW + timedelta(days=1),
        ),
        # Opened before the period: not in this report.
        ticket(5, before, resolved_at=before + HOUR),
        # No plan: no target.
        ticket(
            6, datetime(2025, 6, 1, tzinfo=UTC), plan=None, response_due=None, resolution_due=None
        ),
    ]


def test_a_year_of_one_check_gives_the_hand_computed_figures() -> None:
    history = CheckHistory(
        name="mx-main",
        kind="mx",
        target="example.org",
        states=hourly_year(),
        latency_figure="connect_s",
        latency=[Percentiles(date(2025, 1, 1), 44640, 0.2, 0.8, 1.5, 0.3, 4.0)],
        maintenance=windows(),
        tickets=tickets(),
    )
    report = build_report([history], YEAR, END, now=NOW)
    assert report.layout is Layout.YEARLY
    (check,) = report.checks
    a = check.availability

    sundays = 52  # 2025 starts on a Wednesday and has 52 Sundays
    assert a.period_s == 365 * 86400
    assert a.maintenance_s == sundays * 2 * 3600
    assert a.unmeasured_s == 6 * 3600
    assert a.measured_s == (365 * 24 - sundays * 2 - 6) * 3600
    assert a.down_s == 3.5 * 3600
    assert a.degraded_s == 3600
    assert a.ratio == pytest.approx(1 - 3.5 / (365 * 24 - sundays * 2 - 6))

    by_month = {p.label: p.availability for p in check.months}
    assert len(by_month) == 12
    assert by_month["2025-03"].down_s == 3 * 3600
    assert by_month["2025-07"].down_s == 1800
    assert by_month["2025-01"].ratio == 1.0
    assert by_month["2025-09"].unmeasured_s == 6 * 3600

    lines = {t.ticket.number: t for t in check.tickets}
    assert sorted(lines) == [1, 2, 3, 4, 6]
    assert (lines[1].response, lines[1].resolution) == (Outcome.MET, Outcome.MET)
    assert (lines[2].response, lines[2].resolution) == (Outcome.BREACHED, Outcome.BREACHED)
    assert (lines[3].response, lines[3].resolution) == (Outcome.MET, Outcome.MET)
    assert (lines[4].response, lines[4].resolution) == (Outcome.BREACHED, Outcome.OPEN)
    assert (lines[6].response, lines[6].resolution) == (Outcome.NO_TARGET, Outcome.NO_TARGET)
    assert lines[3].in_maintenance and not lines[1].in_maintenance
    assert check.sla.response == {Outcome.MET: 2, Outcome.BREACHED: 2, Outcome.NO_TARGET: 1}
    assert check.sla.resolution == {
        Outcome.MET: 2,
        Outcome.BREACHED: 1,
        Outcome.OPEN: 1,
        Outcome.NO_TARGET: 1,
    }
    assert check.mtta_s == (10 + 45) / 2 * 60
    assert check.mttr_s == (3 * 3600 + 6 * 3600 + 20 * 60) / 3

    # Every Sunday's 2 h of smtp_connect failures count too: stages are what failed, not
    # availability.
    assert check.stages == [("smtp_connect", (sundays * 2 + 3) * 60), ("mx_lookup", 30)]
    assert len(check.maintenance) == sundays


def test_certificate_renewals_expiries_and_blocklist_episodes() -> None:
    day = timedelta(days=1)
    # 20 days left falling a day a day, expired for two days, renewed to 90 days.
    readings = [Sample(YEAR + i * day, 20.0 - i) for i in range(22)]
    readings += [Sample(YEAR + (22 + i) * day, 90.0 - i) for i in range(10)]
    tls = CheckHistory("cert", "tls", "mx.example.org:25", days_left=readings)
    listings = [0, 0, 2, 3, 0, 0, 1, 1]
    dnsbl = CheckHistory(
        "rbl",
        "dnsbl",
        "192.0.2.1",
        listings=[Sample(YEAR + i * HOUR, float(v)) for i, v in enumerate(listings)],
    )
    report = build_report([tls, dnsbl], YEAR, YEAR + 40 * day, now=NOW)
    cert, rbl = report.checks
    assert [(r.at, r.days_before, r.days_after) for r in cert.renewals] == [
        (YEAR + 22 * day, -1.0, 90.0)
    ]
    assert [(e.start, e.end) for e in cert.expiries] == [(YEAR + 20 * day, YEAR + 22 * day)]
    assert cert.expires_at == YEAR + 31 * day + 81 * day
    assert [(e.start, e.end, e.peak) for e in rbl.blocklisted] == [
        (YEAR + 2 * HOUR, YEAR + 4 * HOUR, 3.0),
        (YEAR + 6 * HOUR, None, 1.0),
    ]


def test_the_layout_follows_the_span_unless_asked() -> None:
    assert layout_for(YEAR, YEAR + timedelta(days=31)) is Layout.MONTHLY
    assert layout_for(YEAR, YEAR + timedelta(days=32)) is Layout.YEARLY
    history = CheckHistory("mx-main", "mx", "example.org", states=hourly_year())
    march = build_report(
        [history], datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC), now=NOW
    )
    assert march.layout is Layout.MONTHLY
    (check,) = march.checks
    assert len(check.bars) == 31 and len(check.months) == 1
    assert {p.label: p.availability.down_s for p in check.bars}["2025-03-10"] == 3 * 3600
    forced = build_report([history], YEAR, END, now=NOW, layout=Layout.MONTHLY)
    assert len(forced.checks[0].bars) == 365


def test_an_empty_or_reversed_period_is_refused() -> None:
    with pytest.raises(ValueError, match="after its start"):
        build_report([], END, YEAR, now=NOW)
