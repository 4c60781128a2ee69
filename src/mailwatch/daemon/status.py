"""The status file on-call staff read: ``status.json`` for programs, ``status.txt`` for people.

Both are rewritten atomically (temporary file, fsync, rename), so a reader never sees half a
file. The JSON format is documented in docs/status-file.md; its ``schema`` field changes when
a field changes meaning or disappears.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from mailwatch.domain.results import CheckResult, State, worst
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.time import span
from mailwatch.timefmt import ago, local

SCHEMA = "mailwatch.status/1"
STATUS_JSON = "status.json"
STATUS_TXT = "status.txt"


@dataclass
class CheckStatus:
    """What the daemon knows about one check between results."""

    name: str
    kind: str
    target: str
    state: State = State.UNKNOWN
    summary: str = "not run yet"
    stage: str | None = None
    since: datetime | None = None
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def record(self, result: CheckResult) -> bool:
        """Take a new result; True when the state changed."""
        changed = result.state is not self.state or self.last_run_at is None
        if changed:
            self.since = result.finished_at
        self.state = result.state
        self.summary = result.summary
        self.stage = result.stage
        self.last_run_at = result.finished_at
        if result.state is State.OK:
            self.last_ok_at = result.finished_at
        self.metrics = dict(result.metrics)
        return changed


@dataclass(frozen=True)
class DaemonInfo:
    version: str
    pid: int
    started_at: datetime


@dataclass(frozen=True)
class TicketView:
    """An open ticket as the status file shows it."""

    ticket: Ticket
    number: str
    escalation_step: int | None = None


def snapshot(
    now: datetime,
    daemon: DaemonInfo,
    checks: Iterable[CheckStatus],
    tickets: Sequence[TicketView],
    flapping: Mapping[str, bool],
    silenced_until: Mapping[str, datetime],
) -> dict[str, Any]:
    """The ``mailwatch.status/1`` document."""
    ordered = sorted(checks, key=lambda c: (-c.state.badness, c.name))
    return {
        "schema": SCHEMA,
        "generated_at": _iso(now),
        "daemon": {
            "version": daemon.version,
            "pid": daemon.pid,
            "started_at": _iso(daemon.started_at),
            "heartbeat_at": _iso(now),
        },
        "overall": worst(c.state for c in ordered).label,
        "checks": [
            {
                "name": c.name,
                "kind": c.kind,
                "target": c.target,
                "state": c.state.label,
                "summary": c.summary,
                "stage": c.stage,
                "since": _iso(c.since),
                "last_run_at": _iso(c.last_run_at),
                "last_ok_at": _iso(c.last_ok_at),
                "metrics": c.metrics,
                "flapping": bool(flapping.get(c.name, False)),
                "silenced_until": _iso(silenced_until.get(c.name)),
            }
            for c in ordered
        ],
        "tickets": [
            {
                "id": view.number,
                "severity": view.ticket.severity,
                "state": str(view.ticket.status),
                "check": view.ticket.check,
                "target": view.ticket.target,
                "summary": view.ticket.last_summary,
                "opened_at": _iso(view.ticket.opened_at),
                "acknowledged_by": view.ticket.acknowledged_by,
                "acknowledged_at": _iso(view.ticket.acknowledged_at),
                "response_due": _iso(view.ticket.response_due),
                "resolution_due": _iso(view.ticket.resolution_due),
                "escalation_step": view.escalation_step,
            }
            for view in sorted(tickets, key=lambda v: (v.ticket.severity, v.ticket.opened_at))
        ],
    }


def render_text(document: Mapping[str, Any], zone: tzinfo | None, now: datetime) -> str:
    """``status.txt``: the same facts for a person reading it with ``cat`` at 3 a.m."""
    daemon = document["daemon"]
    lines = [
        f"mailwatch {daemon['version']} (pid {daemon['pid']}): overall "
        f"{document['overall'].upper()}",
        f"written {_when(document['generated_at'], zone, now)}; "
        f"running since {_when(daemon['started_at'], zone, now)}",
        "",
    ]
    tickets = document["tickets"]
    lines.append(f"OPEN TICKETS ({len(tickets)})" if tickets else "OPEN TICKETS: none")
    for t in tickets:
        ack = (
            f"acknowledged by {t['acknowledged_by']} {_when(t['acknowledged_at'], zone, now)}"
            if t["acknowledged_at"]
            else f"NOT acknowledged: `mailwatch ack {t['id']}`"
        )
        lines.append(
            f"  {t['id']}  SEV{t['severity']}  {t['state']:<12}  {t['check']}: {t['summary']}"
        )
        lines.append(f"      opened {_when(t['opened_at'], zone, now)}; {ack}")
        lines.append(
            f"      response due {_due(t['response_due'], zone, now)}; "
            f"resolution due {_due(t['resolution_due'], zone, now)}"
            + (f"; escalation step {t['escalation_step']}" if t["escalation_step"] else "")
        )
    lines.append("")
    lines.append("CHECKS (worst first)")
    for c in document["checks"]:
        flags = []
        if c["flapping"]:
            flags.append("FLAPPING")
        if c["silenced_until"]:
            flags.append(f"silenced until {_clock(c['silenced_until'], zone)}")
        extra = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"  {c['state'].upper():<8}  {c['name']}{extra}: {c['summary']}")
        since = _when(c["since"], zone, now) if c["since"] else "never run"
        last_ok = _when(c["last_ok_at"], zone, now) if c["last_ok_at"] else "never"
        lines.append(f"            {c['state']} since {since}; last ok {last_ok}")
    return "\n".join(lines) + "\n"


def write_atomically(directory: Path, name: str, text: str) -> None:
    """Write ``directory/name`` so that readers see the old or the new file, never a mix."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_status(
    directory: Path, document: Mapping[str, Any], zone: tzinfo | None, now: datetime
) -> None:
    write_atomically(directory, STATUS_JSON, json.dumps(document, indent=2) + "\n")
    write_atomically(directory, STATUS_TXT, render_text(document, zone, now))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _clock(text: str, zone: tzinfo | None) -> str:
    return local(datetime.fromisoformat(text), zone)


def _when(text: str | None, zone: tzinfo | None, now: datetime) -> str:
    if not text:
        return "-"
    return f"{_clock(text, zone)} ({ago(datetime.fromisoformat(text), now)})"


def _due(text: str | None, zone: tzinfo | None, now: datetime) -> str:
    if not text:
        return "no target"
    left = (datetime.fromisoformat(text) - now).total_seconds()
    tail = f"{span(left)} left" if left >= 0 else f"BREACHED {span(left)} ago"
    return f"{_clock(text, zone)} ({tail})"
