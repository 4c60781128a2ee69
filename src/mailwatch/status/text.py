"""``status.txt``: the snapshot for a person reading it with ``cat`` at 3 a.m.

Open tickets first, with how to acknowledge them and the time left to each deadline, then the
checks, worst first; times in the display zone with "12 min ago".
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from mailwatch.domain.time import ago, local, span
from mailwatch.status.model import CheckView, StatusSnapshot, TicketView


def render_text(snapshot: StatusSnapshot, zone: tzinfo | None, now: datetime) -> str:
    """``status.txt`` as read at ``now`` (the daemon's write, or ``mailwatch status`` later)."""
    daemon = snapshot.daemon
    lines = [
        f"mailwatch {daemon.version} (pid {daemon.pid}): overall {snapshot.overall.label.upper()}",
        f"written {_when(snapshot.generated_at, zone, now)}; "
        f"running since {_when(daemon.started_at, zone, now)}",
        "",
    ]
    tickets = snapshot.tickets
    lines.append(f"OPEN TICKETS ({len(tickets)})" if tickets else "OPEN TICKETS: none")
    for ticket in tickets:
        lines += _ticket_lines(ticket, zone, now)
    lines.append("")
    lines.append("CHECKS (worst first)")
    for check in snapshot.checks:
        lines += _check_lines(check, zone, now)
    return "\n".join(lines) + "\n"


def _ticket_lines(t: TicketView, zone: tzinfo | None, now: datetime) -> list[str]:
    ack = (
        f"acknowledged by {t.acknowledged_by} {_when(t.acknowledged_at, zone, now)}"
        if t.acknowledged_at
        else f"NOT acknowledged: `mailwatch ack {t.id}`"
    )
    return [
        f"  {t.id}  SEV{t.severity}  {t.state!s:<12}  {t.check}: {t.summary}",
        f"      opened {_when(t.opened_at, zone, now)}; {ack}",
        f"      response due {_due(t.response_due, zone, now)}; "
        f"resolution due {_due(t.resolution_due, zone, now)}"
        + (f"; escalation step {t.escalation_step}" if t.escalation_step else ""),
    ]


def _check_lines(c: CheckView, zone: tzinfo | None, now: datetime) -> list[str]:
    flags = []
    if c.flapping:
        flags.append("FLAPPING")
    if c.silenced_until:
        flags.append(f"silenced until {local(c.silenced_until, zone)}")
    if c.vote is not None and c.vote.below_quorum:
        flags.append(
            f"BELOW QUORUM: {c.vote.sites_failing} site(s) failing, quorum {c.vote.quorum}"
        )
    extra = f" [{', '.join(flags)}]" if flags else ""
    since = _when(c.since, zone, now) if c.since else "never run"
    last_ok = _when(c.last_ok_at, zone, now) if c.last_ok_at else "never"
    lines = [
        f"  {c.state.label.upper():<8}  {c.name}{extra}: {c.summary}",
        f"            {c.state.label} since {since}; last ok {last_ok}{_ran_by(c)}",
    ]
    for site in c.vote.sites if c.vote is not None else ():
        node = f" ({site.node})" if site.node else ""
        stale = "" if site.current else "; too old to vote"
        lines.append(
            f"            site {site.site}{node}: {site.state.label} "
            f"{_when(site.at, zone, now)}{stale}: {site.summary}"
        )
    return lines


def _ran_by(check: CheckView) -> str:
    if check.node is None or check.vote is not None:
        return ""  # a voting check names each site's node on its own line
    site = f" ({check.site})" if check.site and check.site != check.node else ""
    return f"; ran on {check.node}{site}"


def _when(instant: datetime | None, zone: tzinfo | None, now: datetime) -> str:
    if instant is None:
        return "-"
    return f"{local(instant, zone)} ({ago(instant, now)})"


def _due(instant: datetime | None, zone: tzinfo | None, now: datetime) -> str:
    if instant is None:
        return "no target"
    left = (instant - now).total_seconds()
    tail = f"{span(left)} left" if left >= 0 else f"BREACHED {span(left)} ago"
    return f"{local(instant, zone)} ({tail})"
