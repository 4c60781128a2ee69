"""``status.json``: the snapshot as the ``mailwatch.status/1`` document, and back.

The format is docs/status-file.md (schema docs/status-file.schema.json); ``SCHEMA`` changes
when a field changes meaning or disappears. The API serves the same document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailwatch.domain.errors import MailwatchError
from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.domain.time import iso
from mailwatch.status.model import (
    CheckView,
    DaemonInfo,
    SiteView,
    StatusSnapshot,
    TicketView,
    VoteView,
)

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
                "below_quorum": c.below_quorum,
                "vote": _vote_document(c.vote),
                "node": c.node,
                "site": c.site,
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


def _vote_document(vote: VoteView | None) -> dict[str, Any] | None:
    if vote is None:
        return None
    return {
        "quorum": vote.quorum,
        "sites_failing": vote.sites_failing,
        "below_quorum": vote.below_quorum,
        "sites": [
            {
                "site": s.site,
                "node": s.node,
                "state": s.state.label,
                "summary": s.summary,
                "at": iso(s.at),
                "current": s.current,
            }
            for s in vote.sites
        ],
    }


class StatusDocumentError(MailwatchError, ValueError):
    """A document that is not ``mailwatch.status/1``; the message names the field and what is
    wrong with it, on one line (``checks[2].summary is missing``)."""


EARLIEST_YEAR = 1970
LATEST_YEAR = 9998
"""Instants outside these years (in UTC) are refused: none is a heartbeat, and one a day from
``datetime``'s ends cannot be shown in every time zone."""
SHOWN_CHARS = 40


def from_document(document: object) -> StatusSnapshot:
    """The snapshot a document describes; fields added by a newer daemon are ignored.

    Raises ``StatusDocumentError`` (and nothing else) for a document that is not
    ``mailwatch.status/1``, whatever its types, values or nesting.
    """
    root = _Fields(document, "the document")
    schema = root.field("schema")
    if schema != SCHEMA:
        raise StatusDocumentError(f"schema is {_shown(schema)}, not {SCHEMA!r}")
    daemon = root.object("daemon")
    daemon.instant("heartbeat_at")
    pid = daemon.integer("pid")
    if pid < 1:
        raise StatusDocumentError(f"daemon.pid is {pid}, not a process id")
    return StatusSnapshot(
        generated_at=root.instant("generated_at"),
        daemon=DaemonInfo(
            version=daemon.string("version"),
            pid=pid,
            started_at=daemon.instant("started_at"),
        ),
        overall=root.state("overall"),
        checks=tuple(_check(c) for c in root.objects("checks")),
        tickets=tuple(_ticket(t) for t in root.objects("tickets")),
    )


def _check(c: _Fields) -> CheckView:
    return CheckView(
        name=c.string("name"),
        kind=c.string("kind"),
        target=c.string("target"),
        state=c.state("state"),
        summary=c.string("summary"),
        stage=c.string_or_none("stage"),
        since=c.instant_or_none("since"),
        last_run_at=c.instant_or_none("last_run_at"),
        last_ok_at=c.instant_or_none("last_ok_at"),
        metrics=c.metrics("metrics"),
        flapping=c.boolean("flapping"),
        silenced_until=c.instant_or_none("silenced_until"),
        vote=_vote(c.object("vote")) if c.values.get("vote") is not None else None,
        # Absent from documents written before the cluster's views.
        node=c.string_or_none("node") if "node" in c.values else None,
        site=c.string_or_none("site") if "site" in c.values else None,
    )


def _vote(v: _Fields) -> VoteView:
    """A check's ``vote`` (absent from documents written before it existed)."""
    return VoteView(
        quorum=v.integer("quorum"),
        sites_failing=v.integer("sites_failing"),
        below_quorum=v.boolean("below_quorum"),
        sites=tuple(
            SiteView(
                site=s.string("site"),
                node=s.string_or_none("node"),
                state=s.state("state"),
                summary=s.string("summary"),
                at=s.instant("at"),
                current=s.boolean("current"),
            )
            for s in v.objects("sites")
        ),
    )


def _ticket(t: _Fields) -> TicketView:
    severity = t.integer("severity")
    if not 1 <= severity <= 4:
        raise StatusDocumentError(f"{t.where('severity')} is {severity}, not 1 to 4")
    status = t.string("state")
    if status not in set(TicketStatus):
        raise StatusDocumentError(f"{t.where('state')} is {_shown(status)}, not a ticket status")
    step = t.field("escalation_step")
    if step is not None:
        step = t.integer("escalation_step")
    return TicketView(
        id=t.string("id"),
        severity=severity,
        state=TicketStatus(status),
        check=t.string("check"),
        target=t.string("target"),
        summary=t.string("summary"),
        opened_at=t.instant("opened_at"),
        acknowledged_by=t.string_or_none("acknowledged_by"),
        acknowledged_at=t.instant_or_none("acknowledged_at"),
        response_due=t.instant_or_none("response_due"),
        resolution_due=t.instant_or_none("resolution_due"),
        escalation_step=step,
    )


_STATES = {state.label: state for state in State}


class _Fields:
    """One JSON object of the document and where it is (``checks[2]``), read field by field
    with its type checked; every refusal is a ``StatusDocumentError`` naming the field."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise StatusDocumentError(f"{path} is {_kind(value)}, not an object")
        self.values: dict[str, Any] = value
        self.path = path

    def where(self, key: str) -> str:
        return key if self.path == "the document" else f"{self.path}.{key}"

    def field(self, key: str) -> Any:
        if key not in self.values:
            raise StatusDocumentError(f"{self.where(key)} is missing")
        return self.values[key]

    def _wrong(self, key: str, wanted: str) -> StatusDocumentError:
        value = self.values[key]
        return StatusDocumentError(f"{self.where(key)} is {_kind(value)}, not {wanted}")

    def object(self, key: str) -> _Fields:
        self.field(key)
        return _Fields(self.values[key], self.where(key))

    def objects(self, key: str) -> list[_Fields]:
        items = self.field(key)
        if not isinstance(items, list):
            raise self._wrong(key, "a list")
        return [_Fields(item, f"{self.where(key)}[{n}]") for n, item in enumerate(items)]

    def string(self, key: str) -> str:
        value = self.field(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def string_or_none(self, key: str) -> str | None:
        return None if self.field(key) is None else self.string(key)

    def integer(self, key: str) -> int:
        value = self.field(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "a whole number")
        return value

    def boolean(self, key: str) -> bool:
        value = self.field(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def state(self, key: str) -> State:
        label = self.field(key)
        if not isinstance(label, str) or label not in _STATES:
            raise StatusDocumentError(
                f"{self.where(key)} is {_shown(label)}, not ok, warning, critical or unknown"
            )
        return _STATES[label]

    def metrics(self, key: str) -> dict[str, float]:
        value = self.field(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "an object")
        for name, figure in value.items():
            if isinstance(figure, bool) or not isinstance(figure, int | float):
                raise StatusDocumentError(
                    f"{self.where(key)}[{_shown(name)}] is {_kind(figure)}, not a number"
                )
        return dict(value)

    def instant(self, key: str) -> datetime:
        value = self.field(key)
        if not isinstance(value, str):
            raise self._wrong(key, "an ISO 8601 instant")
        where = f"{self.where(key)} {_shown(value)}"
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise StatusDocumentError(f"{where} is not an ISO 8601 instant") from None
        if instant.utcoffset() is None:
            raise StatusDocumentError(f"{where} has no UTC offset")
        try:
            year = instant.astimezone(UTC).year
        except OverflowError:
            year = instant.year
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise StatusDocumentError(
                f"{where} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}"
            )
        return instant

    def instant_or_none(self, key: str) -> datetime | None:
        return None if self.field(key) is None else self.instant(key)


def _kind(value: object) -> str:
    """What a JSON value is, as the error says it: ``a list``, ``null``, ``the number 3``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int | float):
        return f"the number {_shown(value)}"
    return f"the string {_shown(value)}"


def _shown(value: object) -> str:
    """A value for an error line: strings quoted with control characters escaped, cut short."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return _kind(value)
    if isinstance(value, int) and abs(value) >= 10**SHOWN_CHARS:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value) if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
