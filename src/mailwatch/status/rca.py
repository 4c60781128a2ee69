"""A ticket's root-cause pack: where the failure began, what the related checks saw around
the opening, the evidence recorded when it opened, its timeline and how its SLA ended. Read
from the store in one transaction; ``rca_document`` is its JSON form (``show --rca --json``),
and the CLI and the ticket page render it as text and HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailwatch.domain.evidence import MAX_RELATED, Evidence, EvidenceKind, result_evidence
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket, dedup_key
from mailwatch.domain.time import iso, parse_instant, span
from mailwatch.domain.timeline import EventType
from mailwatch.incidents.related import related_checks, secrets_of
from mailwatch.status.ticket_json import event_dict, ticket_dict
from mailwatch.store.evidence import load_evidence, results_between
from mailwatch.store.store import Store
from mailwatch.store.tickets import StoredEvent, load_ticket, load_timeline

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

WINDOW = timedelta(minutes=15)
"""Related checks' results are shown from this long before the opening to this long after."""
WINDOW_RESULTS = 30
"""At most this many results per related check in the window (the latest of them)."""


@dataclass(frozen=True, slots=True)
class FirstFailure:
    """Where the streak that opened the ticket began: its first failing result's stage,
    summary and time (``recorded``: from the evidence; else from the opening event)."""

    stage: str | None
    summary: str
    at: datetime | None
    recorded: bool


@dataclass(frozen=True, slots=True)
class RelatedView:
    """A related check: how it relates, its latest result when the ticket opened (recorded
    then), and its results still kept from the window around the opening."""

    check: str
    relation: str
    kind: str
    at_opening: Mapping[str, Any] | None
    window: tuple[CheckResult, ...]

    @property
    def failures(self) -> int:
        return sum(1 for r in self.window if r.state is not State.OK)


@dataclass(frozen=True, slots=True)
class SlaOutcome:
    """How the response and resolution targets ended (or stand): ``met``, ``breached``,
    ``running``, ``no target`` or ``not acknowledged``, with a sentence saying when."""

    response: str
    response_text: str
    resolution: str
    resolution_text: str


@dataclass(frozen=True, slots=True)
class RootCause:
    ticket: Ticket
    first: FirstFailure
    opening: Mapping[str, Any] | None
    """The result that opened the ticket, as recorded then (None before evidence was kept)."""
    related: tuple[RelatedView, ...]
    window_start: datetime
    window_end: datetime
    timeline: tuple[StoredEvent, ...]
    sla: SlaOutcome


async def read_root_cause(
    store: Store, config: MailwatchConfig, number: int, now: datetime
) -> RootCause | None:
    """Ticket ``number``'s root-cause pack; None when there is no such ticket."""
    async with store.read() as conn:
        ticket = await load_ticket(conn, number)
        if ticket is None:
            return None
        timeline = tuple(await load_timeline(conn, number))
        evidence = await load_evidence(conn, number)
        start, end = ticket.opened_at - WINDOW, ticket.opened_at + WINDOW
        names = _related_names(config, ticket.check, evidence)
        own = config.check_named(ticket.check)
        configured_checks = [own, *(config.check_named(name) for name in names)]
        secrets = secrets_of([c for c in configured_checks if c is not None])
        views = []
        for name, (relation, kind, recorded) in names.items():
            configured = config.check_named(name)
            target = configured.target if configured is not None else None
            kept: list[CheckResult] = []
            if target is not None:
                keys = [dedup_key(name, target)]
                kept = await results_between(conn, keys, start, end, WINDOW_RESULTS)
            masked = tuple(_masked(r, secrets) for r in kept)
            views.append(RelatedView(name, relation, kind, recorded, masked))
    opening = _one(evidence, EvidenceKind.OPENING)
    return RootCause(
        ticket=ticket,
        first=_first_failure(evidence, timeline),
        opening=opening.data if opening is not None else None,
        related=tuple(views),
        window_start=start,
        window_end=end,
        timeline=timeline,
        sla=sla_outcome(ticket, now),
    )


def _masked(result: CheckResult, secrets: Sequence[str]) -> CheckResult:
    """``result`` with its summary and details as the evidence keeps them: the checks'
    secrets and URL passwords masked, the details bounded (``result_evidence``)."""
    data = result_evidence(result, secrets)
    return replace(result, summary=str(data["summary"]), details=data["details"])


def _related_names(
    config: MailwatchConfig, check: str, evidence: Sequence[Evidence]
) -> dict[str, tuple[str, str, Mapping[str, Any] | None]]:
    """Related checks by name: those recorded at the opening, then any the config relates
    now (a check added since has no record)."""
    found: dict[str, tuple[str, str, Mapping[str, Any] | None]] = {}
    for record in evidence:
        if record.kind in (EvidenceKind.RELATED, EvidenceKind.QUEUE):
            data = record.data
            found[record.check] = (str(data.get("relation", "")), str(data.get("kind", "")), data)
    for item in related_checks(config, check, MAX_RELATED):
        found.setdefault(item.check.name, (item.relation, item.check.kind, None))
    return found


def _one(evidence: Sequence[Evidence], kind: EvidenceKind) -> Evidence | None:
    return next((record for record in evidence if record.kind is kind), None)


def _first_failure(evidence: Sequence[Evidence], timeline: Sequence[StoredEvent]) -> FirstFailure:
    record = _one(evidence, EvidenceKind.FIRST_FAILURE)
    if record is not None:
        data = record.data
        return FirstFailure(
            data.get("stage"),
            str(data.get("summary", "")),
            parse_instant(data.get("finished_at")),
            recorded=True,
        )
    opened = next((s.event for s in timeline if s.event.type is EventType.TICKET_OPENED), None)
    payload = opened.payload if opened is not None else {}
    record = _one(evidence, EvidenceKind.OPENING)
    if record is not None:
        # No first failure kept (the streak began with the opening result, or its start was
        # pruned): the stage is the opening result's, the time the engine's failing_since.
        data = record.data
        return FirstFailure(
            data.get("stage"),
            str(data.get("summary", "")),
            parse_instant(payload.get("failing_since")) or parse_instant(data.get("finished_at")),
            recorded=True,
        )
    return FirstFailure(
        payload.get("stage"),
        str(payload.get("summary", "")),
        parse_instant(payload.get("failing_since")),
        recorded=False,
    )


def sla_outcome(t: Ticket, now: datetime) -> SlaOutcome:
    """How ``t``'s targets ended, or stand at ``now`` while it is open. A response is an
    acknowledgement (or mitigation); resolving is no response, as ``mailwatch show`` says."""
    responded = t.acknowledged_at or t.mitigated_at
    if t.response_due is None:
        response, response_text = "no target", "no response target"
    elif responded is not None:
        # The flag is set by a tick; a response after the deadline is late even before one ran.
        late = t.response_breached or responded > t.response_due
        after = f"responded {span((responded - t.opened_at).total_seconds())} after opening"
        response = "breached" if late else "met"
        response_text = f"{response}: {after}" + (
            f", {span((responded - t.response_due).total_seconds())} late" if late else ""
        )
    elif not t.is_open:
        late = t.response_breached or (t.resolved_at is not None and t.resolved_at > t.response_due)
        response = "breached" if late else "not acknowledged"
        response_text = f"{response}: resolved without an acknowledgement"
    elif now >= t.response_due or t.response_breached:
        response = "breached"
        response_text = f"breached: overdue by {span((now - t.response_due).total_seconds())}"
    else:
        response = "running"
        response_text = f"running: due in {span((t.response_due - now).total_seconds())}"
    ended = t.mitigated_at or t.resolved_at
    if t.resolution_due is None:
        resolution, resolution_text = "no target", "no resolution target"
    elif ended is not None:
        how = "mitigated" if t.mitigated_at is not None else "resolved"
        after = f"{how} {span((ended - t.opened_at).total_seconds())} after opening"
        late = t.resolution_breached or ended > t.resolution_due
        resolution = "breached" if late else "met"
        resolution_text = f"{resolution}: {after}"
    elif now >= t.resolution_due or t.resolution_breached:
        resolution = "breached"
        overdue = span((now - t.resolution_due).total_seconds())
        resolution_text = f"breached: overdue by {overdue}"
    else:
        resolution = "running"
        resolution_text = f"running: due in {span((t.resolution_due - now).total_seconds())}"
    return SlaOutcome(response, response_text, resolution, resolution_text)


def rca_document(rca: RootCause, prefix: str) -> dict[str, Any]:
    """The JSON form: instants in ISO 8601 UTC, the evidence as recorded."""
    return {
        "ticket": ticket_dict(rca.ticket, prefix),
        "first_failure": {
            "stage": rca.first.stage,
            "summary": rca.first.summary,
            "at": iso(rca.first.at),
            "recorded": rca.first.recorded,
        },
        "opening_evidence": rca.opening,
        "window": {"start": iso(rca.window_start), "end": iso(rca.window_end)},
        "related": [
            {
                "check": view.check,
                "relation": view.relation,
                "kind": view.kind,
                "at_opening": view.at_opening,
                "window_results": [r.to_dict() for r in view.window],
            }
            for view in rca.related
        ],
        "timeline": [event_dict(s.id, s.event) for s in rca.timeline],
        "sla": {
            "response": rca.sla.response,
            "response_text": rca.sla.response_text,
            "resolution": rca.sla.resolution,
            "resolution_text": rca.sla.resolution_text,
        },
    }
