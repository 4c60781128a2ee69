"""A sample of the daemon's world for the status tests: five checks in every state, three open
tickets, silences and maintenance windows, instants with microseconds the file drops.

The files in ``golden/`` are what the status renderers made of it before the status model
existed (mailwatch.daemon.status at 10a2b04); the model must render it the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mailwatch.config.maintenance import MaintenanceWindowConfig
from mailwatch.domain.quiet import Silence
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import DaemonInfo, StatusSnapshot, StoredFacts, assemble

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2026, 11, 22, 10, 0, 0, 654321, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
INFO = DaemonInfo("0.1.0", 1234, NOW - timedelta(hours=2, microseconds=5))


def result(
    check: str,
    state: State,
    summary: str,
    at: datetime,
    stage: str | None = None,
    metrics: Mapping[str, float] | None = None,
) -> CheckResult:
    started = at - timedelta(seconds=2)
    return CheckResult(check, "roundtrip", "t", state, summary, started, at, stage, metrics or {})


def checks() -> list[CheckStatus]:
    canary = CheckStatus("canary-main", "roundtrip", "canary@example.org via mail.example.org")
    first_ok = NOW - timedelta(minutes=40, microseconds=1)
    canary.record(
        result("canary-main", State.OK, "delivered in 3 s", first_ok, metrics={"send_s": 0.061})
    )
    canary.record(
        result(
            "canary-main",
            State.OK,
            "delivered in 2 s",
            NOW - timedelta(seconds=30, microseconds=250000),
            metrics={"send_s": 0.05, "late_canaries": 0},
        )
    )
    mx = CheckStatus("mx-main", "mx", "example.org")
    mx.record(result("mx-main", State.OK, "fine", NOW - timedelta(hours=3)))
    mx.record(
        result(
            "mx-main",
            State.CRITICAL,
            "no MX answered",
            NOW - timedelta(minutes=12, seconds=5),
            "smtp_connect",
            {"hosts": 2},
        ),
        "mon-b",  # run by another node of the cluster, at site dc2
        "dc2",
    )
    disk = CheckStatus("disk", "resources", "/var")
    disk.record(result("disk", State.WARNING, "disk 91% full", NOW - timedelta(days=3)))
    never = CheckStatus("tls-main", "tls", "mail.example.org:465")
    # 59.8 s before NOW, but 60.65 s once the file has dropped the fraction: "1 min ago".
    banner = CheckStatus("smtp-banner", "service", "127.0.0.1:25")
    banner.record(result("smtp-banner", State.OK, "220 ready", NOW - timedelta(seconds=59.8)))
    return [canary, mx, disk, never, banner]


def tickets() -> list[Ticket]:
    return [
        Ticket(
            123,
            "k1",
            "mx-main",
            "example.org",
            1,
            TicketStatus.TRIGGERED,
            NOW - timedelta(minutes=10),
            response_due=(NOW + timedelta(hours=3, minutes=50)).astimezone(NEW_YORK),
            resolution_due=(NOW - timedelta(minutes=5)).astimezone(NEW_YORK),
            last_summary="no MX answered",
        ),
        Ticket(
            7,
            "k2",
            "disk",
            "/var",
            3,
            TicketStatus.ACKNOWLEDGED,
            NOW - timedelta(days=3),
            acknowledged_at=NOW - timedelta(days=2, hours=1),
            acknowledged_by="dave",
            last_summary="disk 91% full",
        ),
        Ticket(
            9,
            "k3",
            "disk",
            "/var",
            3,
            TicketStatus.MITIGATED,
            NOW - timedelta(days=1),
            acknowledged_at=NOW - timedelta(hours=20),
            acknowledged_by="erin",
            last_summary="disk 93% full",
        ),
    ]


def stored() -> StoredFacts:
    hour_ago = NOW - timedelta(hours=1)
    silences = [
        Silence(1, "disk", hour_ago, NOW + timedelta(hours=1, seconds=0.5), "disk swap", "dave"),
        Silence(2, "all", hour_ago, NOW + timedelta(minutes=30), "upgrade", "dave"),
    ]
    return StoredFacts(tickets(), silences, {123: 2, 9: 1})


def windows() -> list[MaintenanceWindowConfig]:
    return [
        MaintenanceWindowConfig(
            name="mx-move",
            checks=("mx-main",),
            start=NOW - timedelta(hours=1),
            end=NOW + timedelta(hours=2),
        ),
        # Not yet begun: it silences nothing now.
        MaintenanceWindowConfig(
            name="later",
            checks=("canary-main",),
            start=NOW + timedelta(hours=1),
            end=NOW + timedelta(hours=2),
        ),
    ]


def snapshot() -> StatusSnapshot:
    flapping = {"mx-main": True, "disk": False}
    return assemble(NOW, INFO, checks(), stored(), flapping, windows(), ticket_prefix="MW-")


def empty_snapshot() -> StatusSnapshot:
    return assemble(NOW, INFO, [], StoredFacts([], [], {}), {}, [], ticket_prefix="MW-")
