"""A year (2025, UTC) of generated history with known outages, maintenance windows and tickets,
written through the store's own functions (``store.history.record_result``,
``store.tickets.save_ticket``) as the daemon writes them, and the figures it must give,
worked out by hand. The report's tests, its bench and its docs' example use it.

- ``mx-main`` (mx, hourly at HH:30): critical through every Sunday window 02:00-04:00 (52 of
  them, left out), 3 h down on 10 March, an hour of warnings on 5 May, no results for 6 h on
  1 September; connect times spread so each month's percentiles are known.
- ``cert`` (tls, every 6 h): expires 13 June 00:00, renewed 15 June 00:00 to 1 March 2026;
  critical (``expired``) meanwhile: 48 h down.
- ``rbl`` (dnsbl, every 6 h): listed from 1 April 06:00 to 3 April 12:00 (peak 2 listings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailwatch.config.loader import load_config
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.store.history import record_result
from mailwatch.store.store import Store
from mailwatch.store.tickets import next_number, save_ticket, take_number

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)
SUNDAYS = 52
YEAR_H = 365 * 24

EXPIRY_1 = datetime(2025, 6, 13, tzinfo=UTC)
RENEWED = datetime(2025, 6, 15, tzinfo=UTC)
EXPIRY_2 = datetime(2026, 3, 1, tzinfo=UTC)
LISTED = datetime(2025, 4, 1, 6, tzinfo=UTC)
DELISTED = datetime(2025, 4, 3, 12, tzinfo=UTC)


def config_text(tmp: Path, *, password_hash: str = "") -> str:
    users = f'[web.users.alice]\npassword_hash = "{password_hash}"\n' if password_hash else ""
    return f"""
[daemon]
state_dir = "{tmp / "state"}"

[incidents]
timezone = "UTC"
default_plan = "gold"

[calendars.always]
timezone = "UTC"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-24:00"

[plans.gold]
calendar = "always"
sev2 = {{ response = "30m", resolution = "4h" }}

[[maintenance]]
name = "sunday-patching"
days = ["sun"]
from = "02:00"
to = "04:00"
timezone = "UTC"

[[checks.mx]]
name = "mx-main"
domain = "example.org"
interval_s = 3600

[[checks.tls]]
name = "cert"
protocol = "smtps"
host = "mx.example.org"
interval_s = 21600

[[checks.dnsbl]]
name = "rbl"
ips = ["192.0.2.1"]
interval_s = 21600

[web]
listen = "127.0.0.1:1"
cookie_secure = false
{users}"""


def in_sunday_window(at: datetime) -> bool:
    return at.weekday() == 6 and 2 <= at.hour < 4


def connect_s(i: int) -> float:
    """A spread of connect times: mostly 50-550 ms, every 50th result slow (2-4 s)."""
    fast = 0.05 + ((i * 7919) % 1000) / 2000
    return 2.0 + (i % 3) if i % 50 == 0 else fast


def mx_results() -> list[tuple[CheckResult, bool]]:
    outage = {datetime(2025, 3, 10, h, 30, tzinfo=UTC) for h in (10, 11, 12)}
    warned = datetime(2025, 5, 5, 12, 30, tzinfo=UTC)
    gap = (datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 1, 6, tzinfo=UTC))
    found = []
    at = START + timedelta(minutes=30)
    i = 0
    while at < END:
        if not gap[0] <= at < gap[1]:
            quiet = in_sunday_window(at)
            state, stage = State.OK, None
            if quiet or at in outage:
                state, stage = State.CRITICAL, "smtp_connect"
            elif at == warned:
                state, stage = State.WARNING, "slow"
            found.append(
                (
                    CheckResult(
                        "mx-main",
                        "mx",
                        "mx-main",
                        state,
                        "generated",
                        at - timedelta(seconds=1),
                        at,
                        stage,
                        {"connect_s": connect_s(i)},
                    ),
                    quiet,
                )
            )
            i += 1
        at += HOUR
    return found


def six_hourly(check: str, kind: str) -> list[tuple[CheckResult, bool]]:
    found = []
    at = START
    while at < END:
        if kind == "tls":
            expiry = EXPIRY_1 if at < RENEWED else EXPIRY_2
            days_left = (expiry - at).total_seconds() / 86400
            bad = days_left <= 0
            metrics = {"days_left": days_left, "handshake_s": 0.1}
            stage = "expired" if bad else None
        else:
            listed = LISTED <= at < DELISTED
            metrics = {"listings": 2.0 if listed else 0.0, "lookup_s": 0.02}
            bad, stage = listed, "dnsbl_listed" if listed else None
        state = State.CRITICAL if bad else State.OK
        result = CheckResult(check, kind, check, state, "generated", at, at, stage, metrics)
        found.append((result, in_sunday_window(at)))
        at += 6 * HOUR
    return found


def _ticket(number: int, opened: datetime, **fields: object) -> Ticket:
    values: dict[str, object] = {
        "number": number,
        "dedup_key": "mx-main|mx-main",
        "check": "mx-main",
        "target": "mx-main",
        "severity": 2,
        "status": TicketStatus.RESOLVED,
        "opened_at": opened,
        "plan": "gold",
        "response_due": opened + timedelta(minutes=30),
        "resolution_due": opened + timedelta(hours=4),
        "last_summary": "generated",
    }
    values.update(fields)
    return Ticket(**values)  # type: ignore[arg-type]


def tickets() -> list[Ticket]:
    t1 = datetime(2025, 3, 10, 10, 30, tzinfo=UTC)
    t2 = datetime(2025, 5, 5, 12, 30, tzinfo=UTC)
    t3 = datetime(2025, 11, 2, 2, 30, tzinfo=UTC)  # a Sunday, in the window
    t4 = datetime(2025, 12, 31, 23, tzinfo=UTC)
    return [
        _ticket(1, t1, acknowledged_at=t1 + timedelta(minutes=10), resolved_at=t1 + 3 * HOUR),
        _ticket(
            2,
            t2,
            acknowledged_at=t2 + timedelta(minutes=45),
            response_breached=True,
            mitigated_at=t2 + 5 * HOUR,
            resolved_at=t2 + 6 * HOUR,
            resolution_due=t2 + timedelta(minutes=45) + 4 * HOUR,
            resolution_breached=True,
        ),
        _ticket(3, t3, resolved_at=t3 + timedelta(minutes=20)),
        _ticket(
            4,
            t4,
            status=TicketStatus.TRIGGERED,
            resolution_due=NOW + timedelta(days=1),
        ),
    ]


def all_results() -> list[tuple[CheckResult, bool]]:
    return mx_results() + six_hourly("cert", "tls") + six_hourly("rbl", "dnsbl")


async def write_year(config_file: Path) -> None:
    """Create the store of ``config_file`` and write the year into it."""
    config = load_config(config_file)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    try:
        async with store.write() as conn:
            for result, quiet in all_results():
                await record_result(conn, result, "", quiet)
            for ticket in tickets():
                await take_number(conn, await next_number(conn))
                await save_ticket(conn, ticket, ticket.opened_at)
    finally:
        await store.close()


@dataclass(frozen=True)
class Expected:
    """The figures worked out by hand from the generation above."""

    mx_ratio: float = 1 - 3 / (YEAR_H - 2 * SUNDAYS - 6)
    mx_down_s: float = 3 * 3600
    mx_maintenance_s: float = SUNDAYS * 2 * 3600
    mx_unmeasured_s: float = 6 * 3600
    cert_down_s: float = 48 * 3600
    cert_ratio: float = 1 - 48 / (YEAR_H - 2 * SUNDAYS)


def true_percentile(values: list[float], q: float) -> float:
    """The value of rank floor(q * (n - 1)) among ``values`` sorted: the sketch's definition."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def monthly_connect_times() -> dict[str, list[float]]:
    months: dict[str, list[float]] = {}
    for result, _ in mx_results():
        months.setdefault(result.finished_at.strftime("%Y-%m"), []).append(
            result.metrics["connect_s"]
        )
    return months
