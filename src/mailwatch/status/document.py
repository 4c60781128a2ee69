"""``status.json``: the snapshot as the ``mailwatch.status/1`` document, and back.

The format is docs/status-file.md (schema docs/status-file.schema.json); ``SCHEMA`` changes
when a field changes meaning or disappears. The API serves the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.domain.time import iso, parse_instant
from mailwatch.status.model import CheckView, DaemonInfo, StatusSnapshot, TicketView

SCHEMA = "mailwatch.status/1"


def to_document(snapshot: StatusSnapshot) -> dict[str, Any]:
    """The ``mailwatch.status/1`` document (a dict ready for ``json.dumps``)."""
    daemon = snapshot.daemon
    return {
        "schema": SCHEMA,
        "generated_at": iso(snapshot.generated_at),
        "daemon": {
            "version": daemon.version,
            "pid": daemon.pid,
            "started_at": iso(daemon.started_at),
            "heartbeat_at": iso(snapshot.heartbeat_at),
        },
        "overall": snapshot.overall.label,
        "checks": [
            {
                "name": c.name,
                "kind": c.kind,
                "target": c.target,
                "state": c.state.label,
                "summary": c.summary,
                "stage": c.stage,
                "since": iso(c.since),
                "last_run_at": iso(c.last_run_at),
                "last_ok_at": iso(c.last_ok_at),
                "metrics": dict(c.metrics),
                "flapping": c.flapping,
                "silenced_until": iso(c.silenced_until),
            }
            for c in snapshot.checks
        ],
        "tickets": [
            {
                "id": t.id,
                "severity": t.severity,
                "state": str(t.state),
                "check": t.check,
                "target": t.target,
                "summary": t.summary,
                "opened_at": iso(t.opened_at),
                "acknowledged_by": t.acknowledged_by,
                "acknowledged_at": iso(t.acknowledged_at),
                "response_due": iso(t.response_due),
                "resolution_due": iso(t.resolution_due),
                "escalation_step": t.escalation_step,
            }
            for t in snapshot.tickets
        ],
    }


def from_document(document: Mapping[str, Any]) -> StatusSnapshot:
    """The snapshot a document describes; fields added by a newer daemon are ignored.

    Raises KeyError, TypeError or ValueError for a document that is not ``mailwatch.status/1``.
    """
    daemon = document["daemon"]
    return StatusSnapshot(
        generated_at=_instant(document["generated_at"]),
        daemon=DaemonInfo(
            version=str(daemon["version"]),
            pid=int(daemon["pid"]),
            started_at=_instant(daemon["started_at"]),
        ),
        overall=_state(document["overall"]),
        checks=tuple(_check(c) for c in document["checks"]),
        tickets=tuple(_ticket(t) for t in document["tickets"]),
    )


def _check(c: Mapping[str, Any]) -> CheckView:
    return CheckView(
        name=c["name"],
        kind=c["kind"],
        target=c["target"],
        state=_state(c["state"]),
        summary=c["summary"],
        stage=c["stage"],
        since=parse_instant(c["since"]),
        last_run_at=parse_instant(c["last_run_at"]),
        last_ok_at=parse_instant(c["last_ok_at"]),
        metrics=dict(c["metrics"]),
        flapping=bool(c["flapping"]),
        silenced_until=parse_instant(c["silenced_until"]),
    )


def _ticket(t: Mapping[str, Any]) -> TicketView:
    return TicketView(
        id=t["id"],
        severity=int(t["severity"]),
        state=TicketStatus(t["state"]),
        check=t["check"],
        target=t["target"],
        summary=t["summary"],
        opened_at=_instant(t["opened_at"]),
        acknowledged_by=t["acknowledged_by"],
        acknowledged_at=parse_instant(t["acknowledged_at"]),
        response_due=parse_instant(t["response_due"]),
        resolution_due=parse_instant(t["resolution_due"]),
        escalation_step=t["escalation_step"],
    )


def _state(label: Any) -> State:
    return State[str(label).upper()]


def _instant(value: Any) -> datetime:
    instant = parse_instant(value)
    if instant is None:
        raise ValueError("a required instant is missing")
    return instant
