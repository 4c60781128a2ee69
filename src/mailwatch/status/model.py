"""The status snapshot: frozen types for the daemon's world, and the pure function that builds
one from the daemon's live records, the stored tickets and silences, and the config's windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import overload

from mailwatch.domain.quiet import Silence, Window
from mailwatch.domain.results import State, worst
from mailwatch.domain.sites import SiteState
from mailwatch.domain.tickets import Ticket, TicketStatus, format_number
from mailwatch.incidents.vote import Vote
from mailwatch.status.live import CheckStatus
from mailwatch.store.checks import LatestResult


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """The running daemon: its version, process id and start."""

    version: str
    pid: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class SiteView:
    """One site's latest result of a check several sites run; ``current`` is False once it
    is too old to vote (docs/cluster.md, "How quorum decides")."""

    site: str
    node: str | None
    state: State
    summary: str
    at: datetime
    current: bool


@dataclass(frozen=True, slots=True)
class VoteView:
    """The sites' vote on a check with ``run_from``: how many fail, how many must."""

    quorum: int
    sites_failing: int
    below_quorum: bool
    """Some sites fail, fewer than ``quorum``: no ticket, no page, but shown."""
    sites: tuple[SiteView, ...]


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
    vote: VoteView | None = None
    """For a check with ``run_from``: the sites' vote, which also gives its state."""
    node: str | None = None
    """The node that ran the last result (of several nodes, any one may have)."""
    site: str | None = None
    """That node's site."""

    @property
    def below_quorum(self) -> bool:
        return self.vote is not None and self.vote.below_quorum


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
    sites: Mapping[str, Sequence[SiteState]] = field(default_factory=dict)
    """Each site's state of the checks several sites run, by check name."""
    latest: Mapping[tuple[str, str], LatestResult] = field(default_factory=dict)
    """Each check's last stored result, whichever node ran it, by (check, target)."""


def assemble(
    now: datetime,
    daemon: DaemonInfo,
    checks: Iterable[CheckStatus],
    stored: StoredFacts,
    flapping: Mapping[str, bool],
    windows: Iterable[Window],
    *,
    ticket_prefix: str,
    votes: Mapping[str, Vote] | None = None,
) -> StatusSnapshot:
    """The snapshot at ``now``; pure: it reads no clock, store or file. ``votes`` are the
    counts of the checks several sites run; such a check's state is its vote's."""
    votes = votes or {}
    views = [
        _voted(c, votes[c.name], stored.sites.get(c.name, ())) if c.name in votes else c
        for c in checks
    ]
    ordered = sorted(views, key=lambda c: (-c.state.badness, c.name))
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
                vote=_vote_view(votes[c.name], stored.sites.get(c.name, ()))
                if c.name in votes
                else None,
            )
            for c in ordered
        ),
        tickets=tuple(
            _ticket_view(t, ticket_prefix, stored.escalation_steps.get(t.number)) for t in tickets
        ),
    )


def _voted(check: CheckStatus, vote: Vote, sites: Sequence[SiteState]) -> CheckStatus:
    """The check as its sites' vote has it: this node's own result is one vote of several."""
    failing = [s for s in vote.current if s.failing]
    count = f"{len(vote.sites)} site{'' if len(vote.sites) == 1 else 's'}"
    first = failing[0] if failing else None
    if len(failing) >= vote.quorum and first is not None:
        summary = f"failing at {len(failing)} of {count} ({', '.join(vote.failing)})"
    elif first is not None:
        summary = (
            f"below quorum: failing at {len(failing)} of {count} ({', '.join(vote.failing)}), "
            f"quorum {vote.quorum}"
        )
    else:
        summary = f"ok at {len(vote.current)} of {count}"
    if first is not None:
        summary += f"; {first.site}: {first.summary}"
    if vote.silent:
        summary += f"; no current result from {', '.join(vote.silent)}"
    state = vote.state
    newest = max(sites, key=lambda s: s.result_at, default=None)
    latest = newest.result_at if newest is not None else None
    return CheckStatus(
        name=check.name,
        kind=check.kind,
        target=check.target,
        state=state,
        summary=summary,
        stage=first.stage if first is not None and state is not State.OK else None,
        since=check.since if check.state is state else latest,
        last_run_at=max((t for t in (latest, check.last_run_at) if t), default=None),
        last_ok_at=check.last_ok_at,
        metrics=check.metrics,
        node=newest.node if newest is not None else check.node,
        site=newest.site if newest is not None else check.site,
    )


def _vote_view(vote: Vote, sites: Sequence[SiteState]) -> VoteView:
    counted = {s.site for s in vote.current}
    return VoteView(
        quorum=vote.quorum,
        sites_failing=len(vote.failing),
        below_quorum=vote.below_quorum,
        sites=tuple(
            SiteView(s.site, s.node, s.state, s.summary, _second(s.result_at), s.site in counted)
            for s in sorted(sites, key=lambda s: s.site)
        ),
    )


def _check_view(
    check: CheckStatus,
    *,
    flapping: bool,
    silenced_until: datetime | None,
    vote: VoteView | None = None,
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
        vote=vote,
        node=check.node,
        site=check.site,
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
