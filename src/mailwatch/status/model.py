"""The status snapshot: frozen types for the daemon's world, and the pure function that builds
one from the daemon's live records, the stored tickets and silences, and the config's windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import overload

from mailwatch.domain.quiet import Silence, Window
from mailwatch.domain.results import State, worst
from mailwatch.domain.tickets import Ticket, TicketStatus, format_number
from mailwatch.status.live import CheckStatus


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """The running daemon: its version, process id and start."""

    version: str
    pid: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class CheckView:
    """One check as the status shows it."""

    name: str
    kind: str
    target: str
    state: State
    summary: str
    stage: str | None
    since: datetime | None
    last_run_at: datetime | None
    last_ok_at: datetime | None
    metrics: Mapping[str, float]
    flapping: bool
    silenced_until: datetime | None
    """The end of the silence or maintenance window covering the check, if any."""


@dataclass(frozen=True, slots=True)
class TicketView:
    """An open ticket as the status shows it; ``id`` is its number as people write it."""

    id: str
    severity: int
    state: TicketStatus
    check: str
    target: str
    summary: str
    opened_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    response_due: datetime | None
    resolution_due: datetime | None
    escalation_step: int | None
    """The highest escalation step sent (or being sent), from 1; None before the first."""


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The daemon's world at ``generated_at``: checks worst first, open tickets most severe and
    oldest first. Instants are whole seconds, as the status file carries them."""

    generated_at: datetime
    daemon: DaemonInfo
    overall: State
    checks: tuple[CheckView, ...]
    tickets: tuple[TicketView, ...]

    @property
    def heartbeat_at(self) -> datetime:
        """The daemon's last heartbeat: every snapshot it writes is one."""
        return self.generated_at


@dataclass(frozen=True, slots=True)
class StoredFacts:
    """What a snapshot needs from the store, read in one transaction."""

    tickets: Sequence[Ticket]
    silences: Sequence[Silence]
    escalation_steps: Mapping[int, int]


def assemble(
    now: datetime,
    daemon: DaemonInfo,
    checks: Iterable[CheckStatus],
    stored: StoredFacts,
    flapping: Mapping[str, bool],
    windows: Iterable[Window],
    *,
    ticket_prefix: str,
) -> StatusSnapshot:
    """The snapshot at ``now``; pure: it reads no clock, store or file."""
    ordered = sorted(checks, key=lambda c: (-c.state.badness, c.name))
    # Silences before windows: of two equal ends, the first one's UTC offset is shown.
    ends = [(s.covers, s.until) for s in stored.silences if s.until is not None]
    ends += [(w.covers, until) for w in windows if (until := w.active_until(now)) is not None]
    tickets = sorted(stored.tickets, key=lambda t: (t.severity, t.opened_at))
    return StatusSnapshot(
        generated_at=_second(now),
        daemon=DaemonInfo(daemon.version, daemon.pid, _second(daemon.started_at)),
        overall=worst(c.state for c in ordered),
        checks=tuple(
            _check_view(
                c,
                flapping=bool(flapping.get(c.name, False)),
                silenced_until=max((u for covers, u in ends if covers(c.name)), default=None),
            )
            for c in ordered
        ),
        tickets=tuple(
            _ticket_view(t, ticket_prefix, stored.escalation_steps.get(t.number)) for t in tickets
        ),
    )


def _check_view(
    check: CheckStatus, *, flapping: bool, silenced_until: datetime | None
) -> CheckView:
    return CheckView(
        name=check.name,
        kind=check.kind,
        target=check.target,
        state=check.state,
        summary=check.summary,
        stage=check.stage,
        since=_second(check.since),
        last_run_at=_second(check.last_run_at),
        last_ok_at=_second(check.last_ok_at),
        metrics=dict(check.metrics),
        flapping=flapping,
        silenced_until=_second(silenced_until),
    )


def _ticket_view(ticket: Ticket, prefix: str, escalation_step: int | None) -> TicketView:
    return TicketView(
        id=format_number(ticket.number, prefix),
        severity=ticket.severity,
        state=ticket.status,
        check=ticket.check,
        target=ticket.target,
        summary=ticket.last_summary,
        opened_at=_second(ticket.opened_at),
        acknowledged_by=ticket.acknowledged_by,
        acknowledged_at=_second(ticket.acknowledged_at),
        response_due=_second(ticket.response_due),
        resolution_due=_second(ticket.resolution_due),
        escalation_step=escalation_step,
    )


@overload
def _second(value: datetime) -> datetime: ...
@overload
def _second(value: datetime | None) -> datetime | None: ...
def _second(value: datetime | None) -> datetime | None:
    # The file carries whole seconds; the text and the pages count "ago" from the same value.
    return None if value is None else value.replace(microsecond=0)
