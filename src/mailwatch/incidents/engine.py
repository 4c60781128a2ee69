"""The incident engine: a pure function from (check state, result, policy, now, context) to
the new state and the timeline events to record.

No I/O and no clock: the processor loads what the engine needs into ``CheckState`` and
``EngineContext`` and stores the ``Decision`` in one transaction. Ticket fields change only
through ``timeline.apply``, so a stored ticket always equals the replay of its events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.errors import AlreadyDoneError, TicketActionError
from mailwatch.domain.quiet import Quiet
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import (
    HELD_WHILE_FLAPPING,
    NOTIFY_WORTHY,
    EventType,
    TicketEvent,
    apply,
)
from mailwatch.incidents.flapping import HISTORY_LENGTH, is_flapping, percent_state_change
from mailwatch.incidents.policy import IncidentPolicy
from mailwatch.incidents.severity import result_severity


@dataclass(frozen=True, slots=True)
class EngineContext:
    """What the engine must know beyond the check's own state.

    ``next_ticket_number`` is the number a ticket opened now would get (the processor reads
    the counter in the same transaction); ``parent_ticket`` is the open ticket of a
    ``depends_on`` parent, if any; ``quiet`` is the maintenance window or silence covering the
    check now.
    """

    next_ticket_number: int = 1
    parent_ticket: int | None = None
    parent_check: str | None = None
    quiet: Quiet | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer: the check's new state, the events to append, and the check's own
    tickets whose rows must be written (opened, changed or resolved)."""

    state: CheckState
    events: list[TicketEvent] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)

    @property
    def opened(self) -> Ticket | None:
        """The ticket this decision opened, if any."""
        for event in self.events:
            if event.type is EventType.TICKET_OPENED:
                return next(t for t in self.tickets if t.number == event.ticket)
        return None


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def evaluate(
    state: CheckState,
    result: CheckResult,
    policy: IncidentPolicy,
    now: datetime,
    context: EngineContext,
) -> Decision:
    """Take one result into account: streaks, flapping, opening, recovery, dependencies."""
    run = _streaks(state, result, policy, now)
    make = _EventMaker(state, now)
    summary = _result_payload(result)
    # A deadline that passed between ticks is recorded before anything else happens.
    events = _breaches(make, state.ticket, now) if state.ticket is not None else []
    events += _flapping_change(make, state, run, policy, summary)
    if result.state is State.OK:
        change = _recovering(make, state, run, policy, context, summary)
    else:
        change = _failing(make, state, run, result, policy, context, summary)
    events += change.events
    after = _ticket_after(state, change, events, result)
    events, held = _gate(events, state.held, after, context.quiet, run.flapping, people=False)
    events, held = _resume(make, events, held, after, context.quiet, run.flapping)
    new_state = _state_after(state, run, change, after, held, now)
    return Decision(new_state, events, [after] if after is not None else [])


@dataclass(frozen=True, slots=True)
class _Streaks:
    """The check's run of results, this one included: its state history, flapping and streaks."""

    history: tuple[State, ...]
    percent: float
    flapping: bool
    good: int
    bad: int
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class _Change:
    """What a failing or recovering result adds: its events, the parent ticket that now holds
    this check's failure (``reported``), and the number of a ticket it opened."""

    events: list[TicketEvent]
    reported: int | None
    opened: int | None = None


def _streaks(
    state: CheckState, result: CheckResult, policy: IncidentPolicy, now: datetime
) -> _Streaks:
    history = (*state.history, result.state)[-HISTORY_LENGTH:]
    percent = percent_state_change(history)
    flapping = is_flapping(
        state.flapping, percent, policy.flap_high_percent, policy.flap_low_percent
    )
    if result.state is State.OK:
        return _Streaks(history, percent, flapping, state.good_streak + 1, 0, None)
    return _Streaks(history, percent, flapping, 0, state.bad_streak + 1, state.failing_since or now)


def _flapping_change(
    make: _EventMaker,
    state: CheckState,
    run: _Streaks,
    policy: IncidentPolicy,
    summary: Mapping[str, Any],
) -> list[TicketEvent]:
    """``flapping_started`` or ``flapping_stopped`` when this result crossed a threshold."""
    if run.flapping == state.flapping:
        return []
    kind = EventType.FLAPPING_STARTED if run.flapping else EventType.FLAPPING_STOPPED
    flap = {
        "percent_state_change": round(run.percent, 2),
        "high_percent": policy.flap_high_percent,
        "low_percent": policy.flap_low_percent,
    }
    return [make(kind, _number(state.ticket), payload={**flap, **summary})]


def _ticket_after(
    state: CheckState, change: _Change, events: Sequence[TicketEvent], result: CheckResult
) -> Ticket | None:
    """The check's own ticket after the events; an open one keeps the latest failure summary."""
    own = change.opened if change.opened is not None else _number(state.ticket)
    after = _fold(state.ticket, own, events)
    if after is not None and after.is_open and result.state is not State.OK:
        after = replace(after, last_summary=result.summary)
    return after


def _state_after(
    state: CheckState,
    run: _Streaks,
    change: _Change,
    ticket: Ticket | None,
    held: bool,
    now: datetime,
) -> CheckState:
    return replace(
        state,
        history=run.history,
        bad_streak=run.bad,
        good_streak=run.good,
        failing_since=run.failing_since,
        flapping=run.flapping,
        flap_percent=run.percent,
        ticket=ticket if ticket is not None and ticket.is_open else None,
        last_ticket=change.opened if change.opened is not None else state.last_ticket,
        reported_to_parent=change.reported,
        held=held,
        results_seen=state.results_seen + 1,
        last_result_at=now,
    )


# A failing result ------------------------------------------------------------------------------


def _failing(
    make: _EventMaker,
    state: CheckState,
    run: _Streaks,
    result: CheckResult,
    policy: IncidentPolicy,
    context: EngineContext,
    summary: Mapping[str, Any],
) -> _Change:
    """An open ticket hears of a new stage or a higher severity; without one, the failure is
    told to the parent's ticket, or opens a ticket once the policy says so."""
    severity = result_severity(result.kind, result.stage, result.state, policy.severity)
    ticket = state.ticket
    if ticket is not None:
        events = _stage_change(make, ticket, result, summary)
        events += _severity_rise(make, ticket, severity, policy, summary)
        return _Change(events, state.reported_to_parent)
    if context.parent_ticket is not None:
        return _dependent_failure(make, state, context.parent_ticket, context.parent_check, summary)
    if _should_open(policy, run.bad, run.failing_since, make.now):
        number = context.next_ticket_number
        opened = _opening(make, state, run, severity, policy, number, summary)
        return _Change([opened], state.reported_to_parent, opened=number)
    return _Change([], state.reported_to_parent)


def _stage_change(
    make: _EventMaker, ticket: Ticket, result: CheckResult, summary: Mapping[str, Any]
) -> list[TicketEvent]:
    if result.stage == ticket.last_stage:
        return []
    return [make(EventType.STAGE_CHANGED, ticket.number, payload=summary)]


def _severity_rise(
    make: _EventMaker,
    ticket: Ticket,
    severity: int,
    policy: IncidentPolicy,
    summary: Mapping[str, Any],
) -> list[TicketEvent]:
    if severity >= ticket.severity:
        return []
    response_due, resolution_due = _raised_deadlines(ticket, severity, policy, make.now)
    raised = {
        "severity": severity,
        "previous_severity": ticket.severity,
        "response_due": iso(response_due),
        "resolution_due": iso(resolution_due),
    }
    return [make(EventType.SEVERITY_RAISED, ticket.number, payload={**raised, **summary})]


def _dependent_failure(
    make: _EventMaker,
    state: CheckState,
    parent: int,
    parent_check: str | None,
    summary: Mapping[str, Any],
) -> _Change:
    """The parent's ticket hears of this check's failure once per failure, not per result."""
    if state.reported_to_parent == parent:
        return _Change([], parent)
    dependent = {"dependent_check": state.check, "dependent_target": state.target}
    payload = {**dependent, "parent_check": parent_check, **summary}
    return _Change([make(EventType.DEPENDENT_FAILURE, parent, payload=payload)], parent)


def _opening(
    make: _EventMaker,
    state: CheckState,
    run: _Streaks,
    severity: int,
    policy: IncidentPolicy,
    number: int,
    summary: Mapping[str, Any],
) -> TicketEvent:
    deadlines = policy.sla.deadlines(severity, make.now) if policy.sla is not None else None
    opened = {
        "target": state.target,
        "severity": severity,
        "plan": policy.plan,
        "response_due": iso(deadlines.response_due if deadlines else None),
        "resolution_due": iso(deadlines.resolution_due if deadlines else None),
        "previous_ticket": state.last_ticket,
        "failing_since": iso(run.failing_since),
        "consecutive_failures": run.bad,
    }
    return make(EventType.TICKET_OPENED, number, payload={**opened, **summary})


# A recovering result ---------------------------------------------------------------------------


def _recovering(
    make: _EventMaker,
    state: CheckState,
    run: _Streaks,
    policy: IncidentPolicy,
    context: EngineContext,
    summary: Mapping[str, Any],
) -> _Change:
    """The parent's ticket hears that this check recovered; the open ticket resolves after
    ``resolve_after`` ok results in a row, unless the check is flapping."""
    events = _dependent_recovered(make, state, context, summary)
    events += _resolution(make, state.ticket, run, policy, summary)
    return _Change(events, reported=None)


def _dependent_recovered(
    make: _EventMaker, state: CheckState, context: EngineContext, summary: Mapping[str, Any]
) -> list[TicketEvent]:
    reported = state.reported_to_parent
    if reported is None or context.parent_ticket != reported:
        return []
    recovered = {"dependent_check": state.check, "dependent_target": state.target}
    return [make(EventType.DEPENDENT_RECOVERED, reported, payload={**recovered, **summary})]


def _resolution(
    make: _EventMaker,
    ticket: Ticket | None,
    run: _Streaks,
    policy: IncidentPolicy,
    summary: Mapping[str, Any],
) -> list[TicketEvent]:
    if ticket is None or run.good < policy.resolve_after or run.flapping:
        return []
    good = run.good
    return [
        make(
            EventType.TICKET_RESOLVED,
            ticket.number,
            note=f"recovered: {good} consecutive ok result{'' if good == 1 else 's'}",
            payload={"consecutive_ok": good, **summary},
        )
    ]


def _should_open(
    policy: IncidentPolicy, bad: int, failing_since: datetime | None, now: datetime
) -> bool:
    if policy.open_after_s is not None:
        return (
            failing_since is not None
            and (now - failing_since).total_seconds() >= policy.open_after_s
        )
    return bad >= policy.open_after


def _raised_deadlines(
    ticket: Ticket, severity: int, policy: IncidentPolicy, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """Deadlines after a severity rise: the new severity's promise counted from now, but never
    later than the deadlines already promised (a worse outage cannot buy time)."""
    if policy.sla is None or policy.plan != ticket.plan:
        return ticket.response_due, ticket.resolution_due
    if ticket.acknowledged_at is not None:
        fresh = policy.sla.deadlines(severity, ticket.opened_at, ticket.acknowledged_at)
        return ticket.response_due, _earlier(ticket.resolution_due, fresh.resolution_due)
    fresh = policy.sla.deadlines(severity, now)
    return (
        _earlier(ticket.response_due, fresh.response_due),
        _earlier(ticket.resolution_due, fresh.resolution_due),
    )


def _earlier(old: datetime | None, new: datetime | None) -> datetime | None:
    if old is None or new is None:
        return old if new is None else new
    return min(old, new)


def _result_payload(result: CheckResult) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "state": result.state.label,
        "stage": result.stage,
        "summary": result.summary,
        "metrics": dict(result.metrics),
    }


# --------------------------------------------------------------------------------------------
# Time passing
# --------------------------------------------------------------------------------------------


def on_tick(
    state: CheckState, policy: IncidentPolicy, now: datetime, context: EngineContext
) -> Decision:
    """Transitions that need no result: SLA breaches, and re-announcing an open ticket whose
    notices a maintenance window or silence held back once it has ended."""
    del policy  # the same signature as ``evaluate``; nothing in the policy applies yet
    ticket = state.ticket
    if ticket is None:
        return Decision(replace(state, held=False) if state.held else state)
    make = _EventMaker(state, now)
    events = _breaches(make, ticket, now)
    after = _fold(ticket, ticket.number, events)
    events, held = _gate(events, state.held, after, context.quiet, state.flapping, people=False)
    events, held = _resume(make, events, held, after, context.quiet, state.flapping)
    tickets = [after] if after is not None and after != ticket else []
    return Decision(replace(state, ticket=after, held=held), events, tickets)


def _breaches(make: _EventMaker, ticket: Ticket, now: datetime) -> list[TicketEvent]:
    """SLA deadlines that have passed and are not yet on the timeline.

    Acknowledging (or mitigating) meets the response promise; a workaround or the
    resolution meets the resolution promise, as the vendors' documents word it.
    """
    events = []
    due = ticket.response_due
    if (
        due is not None
        and not ticket.response_breached
        and ticket.acknowledged_at is None
        and now >= due
    ):
        events.append(make(EventType.SLA_BREACHED_RESPONSE, ticket.number, payload=_due(ticket)))
    due = ticket.resolution_due
    if (
        due is not None
        and not ticket.resolution_breached
        and ticket.mitigated_at is None
        and now >= due
    ):
        events.append(make(EventType.SLA_BREACHED_RESOLUTION, ticket.number, payload=_due(ticket)))
    return events


def _due(ticket: Ticket) -> dict[str, Any]:
    return {
        "severity": ticket.severity,
        "plan": ticket.plan,
        "response_due": iso(ticket.response_due),
        "resolution_due": iso(ticket.resolution_due),
    }


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def acknowledge(
    state: CheckState,
    ticket: Ticket,
    actor: str,
    note: str | None,
    policy: IncidentPolicy,
    now: datetime,
    context: EngineContext,
) -> Decision:
    """Someone is on it: stops the response clock and restarts the resolution clock."""
    current = _require_open(state, ticket, "acknowledged")
    if current.status is TicketStatus.ACKNOWLEDGED:
        raise AlreadyDoneError(
            f"it is already acknowledged (by {current.acknowledged_by} at "
            f"{iso(current.acknowledged_at)})",
            "acknowledged",
            current.acknowledged_by,
            current.acknowledged_at,
        )
    if current.status is TicketStatus.MITIGATED:
        raise AlreadyDoneError(
            "it is already mitigated, which acknowledged it",
            "acknowledged",
            current.acknowledged_by,
            current.acknowledged_at,
        )
    resolution_due = current.resolution_due
    if policy.sla is not None and policy.plan == current.plan:
        # max(): a clock that stepped back must not put the acknowledgement before opening.
        acknowledged_at = max(now, current.opened_at)
        resolution_due = policy.sla.deadlines(
            current.severity, current.opened_at, acknowledged_at
        ).resolution_due
    payload = {"resolution_due": iso(resolution_due)}
    return _person_decision(
        state, current, EventType.ACKNOWLEDGED, actor, note, now, context, payload=payload
    )


def mitigate(
    state: CheckState,
    ticket: Ticket,
    actor: str,
    note: str,
    now: datetime,
    context: EngineContext,
) -> Decision:
    """A workaround is in place: meets the resolution promise; the ticket stays open until
    the check recovers or someone resolves it."""
    current = _require_open(state, ticket, "mitigated")
    if current.status is TicketStatus.MITIGATED:
        raise AlreadyDoneError(
            f"it is already mitigated (by {current.mitigated_by} at {iso(current.mitigated_at)})",
            "mitigated",
            current.mitigated_by,
            current.mitigated_at,
        )
    return _person_decision(state, current, EventType.MITIGATED, actor, note, now, context)


def resolve(
    state: CheckState,
    ticket: Ticket,
    actor: str,
    note: str,
    now: datetime,
    context: EngineContext,
) -> Decision:
    """A person closes the ticket. The failure streak restarts, so a check that is still
    failing opens a new ticket (linked to this one) only after ``open_after`` more failures."""
    if not ticket.is_open:
        raise AlreadyDoneError(
            f"it was already resolved at {iso(ticket.resolved_at)} by {ticket.resolved_by}",
            "resolved",
            ticket.resolved_by,
            ticket.resolved_at,
        )
    current = _require_open(state, ticket, "resolved")
    return _person_decision(state, current, EventType.TICKET_RESOLVED, actor, note, now, context)


def annotate(
    state: CheckState,
    kind: EventType,
    now: datetime,
    actor: str,
    note: str | None,
    payload: Mapping[str, Any],
) -> Decision:
    """An event on the open ticket that changes nothing else (``silenced``, ``unsilenced``)."""
    if state.ticket is None:
        return Decision(state)
    make = _EventMaker(state, now)
    event = make(kind, state.ticket.number, actor=actor, note=note, payload=payload)
    return Decision(state, [event])


def _require_open(state: CheckState, ticket: Ticket, verb: str) -> Ticket:
    if not ticket.is_open:
        raise TicketActionError(
            f"it was resolved at {iso(ticket.resolved_at)} by {ticket.resolved_by} and cannot "
            f"be {verb}; a new failure opens a new ticket"
        )
    if state.ticket is None or state.ticket.number != ticket.number:
        # Only possible if the tickets table and the check states disagree.
        raise TicketActionError("it is not the open ticket of its check (inconsistent store)")
    return state.ticket


def _person_decision(
    state: CheckState,
    ticket: Ticket,
    kind: EventType,
    actor: str,
    note: str | None,
    now: datetime,
    context: EngineContext,
    *,
    payload: Mapping[str, Any] | None = None,
) -> Decision:
    """A person's action on the open ticket: the SLA breaches due by now, then the action."""
    make = _EventMaker(state, now)
    events = _breaches(make, ticket, now)
    events.append(make(kind, ticket.number, actor=actor, note=note, payload=payload))
    after = _fold(ticket, ticket.number, events)
    assert after is not None
    events, held = _gate(events, state.held, after, context.quiet, state.flapping, people=True)
    if kind is EventType.TICKET_RESOLVED:
        new_state = replace(
            state,
            ticket=None,
            bad_streak=0,
            failing_since=None,
            held=False,
            last_ticket=ticket.number,
        )
    else:
        new_state = replace(state, ticket=after, held=held)
    return Decision(new_state, events, [after])


# --------------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------------


class _EventMaker:
    """Stamps events with the check, its dedup key and the time."""

    def __init__(self, state: CheckState, now: datetime) -> None:
        self.state = state
        self.now = now

    def __call__(
        self,
        kind: EventType,
        ticket: int | None,
        *,
        actor: str | None = None,
        note: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> TicketEvent:
        event = TicketEvent(
            type=kind,
            at=self.now,
            check=self.state.check,
            dedup_key=self.state.dedup_key,
            ticket=ticket,
            note=note,
            payload=dict(payload or {}),
        )
        return event if actor is None else replace(event, actor=actor)


def _number(ticket: Ticket | None) -> int | None:
    return ticket.number if ticket is not None else None


def _fold(ticket: Ticket | None, own: int | None, events: Sequence[TicketEvent]) -> Ticket | None:
    """Apply the events that belong to this check's own ticket (not a parent's)."""
    for event in events:
        if own is not None and event.ticket == own:
            ticket = apply(ticket, event)
    return ticket


def _gate(
    events: list[TicketEvent],
    held: bool,
    ticket: Ticket | None,
    quiet: Quiet | None,
    flapping: bool,
    *,
    people: bool,
) -> tuple[list[TicketEvent], bool]:
    """Set ``notify`` on each event; remember (``held``) what was kept back from an open ticket.

    Nothing notifies during a quiet period; while flapping, results do not announce openings
    or severity rises (people's actions, breaches and the flapping events themselves do).
    """
    gated = []
    for event in events:
        worthy = event.type in NOTIFY_WORTHY and event.ticket is not None
        suppressed = worthy and (
            quiet is not None or (flapping and not people and event.type in HELD_WHILE_FLAPPING)
        )
        held = held or suppressed
        gated.append(replace(event, notify=worthy and not suppressed))
    if ticket is None or not ticket.is_open:
        held = False
    return gated, held


_ANNOUNCES_TICKET = frozenset(
    {
        EventType.TICKET_OPENED,
        EventType.TICKET_RESOLVED,
        EventType.FLAPPING_STOPPED,
        EventType.SEVERITY_RAISED,
    }
)


def _resume(
    make: _EventMaker,
    events: list[TicketEvent],
    held: bool,
    ticket: Ticket | None,
    quiet: Quiet | None,
    flapping: bool,
) -> tuple[list[TicketEvent], bool]:
    """After a quiet period or flapping, tell people about the ticket that is still open."""
    if not held or ticket is None or not ticket.is_open or quiet is not None or flapping:
        return events, held
    if any(e.notify and e.type in _ANNOUNCES_TICKET for e in events):
        return events, False
    resumed = make(
        EventType.NOTIFICATIONS_RESUMED,
        ticket.number,
        payload={
            "status": ticket.status.value,
            "severity": ticket.severity,
            "stage": ticket.last_stage,
            "summary": ticket.last_summary,
        },
    )
    return [*events, replace(resumed, notify=True)], False
