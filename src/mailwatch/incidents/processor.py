"""The transaction shell: loads from the store, asks the pure engine and the pure notice
planner, and writes their decisions, one transaction per processed result, tick or action.

Each transaction writes the result row, the result's share of the check's history (its
buckets, ``store.history``), the check's new state, the ticket rows, the timeline events and
the outbox rows together, so a crash leaves either all of them or none. The history and a new
ticket's evidence are written in savepoints (``mailwatch.store.savepoint``): an ordinary error
there loses only them, not the result and its ticket. This is
the one module of ``mailwatch.incidents`` that talks to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts.planner import PlannerSettings, plan_outbox
from mailwatch.alerts.routes import build_routes
from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.errors import LeaseLostError, SilenceNotFoundError, TicketNotFoundError
from mailwatch.domain.nodes import OWNER_SITE, NodeIdentity
from mailwatch.domain.quiet import ALL_CHECKS, Silence, quiet_for
from mailwatch.domain.results import CheckResult
from mailwatch.domain.sites import site_after
from mailwatch.domain.tickets import Ticket, dedup_key, format_number
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType
from mailwatch.incidents.engine import Decision, EngineContext, annotate, evaluate, on_tick
from mailwatch.incidents.evidence import record_opening
from mailwatch.incidents.policy import IncidentPolicy, policy_for
from mailwatch.incidents.vote import Vote, count_votes, voted_policy, voted_result, window_s
from mailwatch.store.checks import insert_result, load_state, save_state
from mailwatch.store.history import record_result as record_history
from mailwatch.store.memory import save_memory
from mailwatch.store.nodes import LeaseKey, holds
from mailwatch.store.outbox import OutboxRow, cancel_entries, insert_outbox, ticket_entries
from mailwatch.store.retry import retrying
from mailwatch.store.savepoint import apart
from mailwatch.store.silences import active_silences, add_silence, end_silences, load_silence
from mailwatch.store.sites import load_sites, save_site
from mailwatch.store.store import Store
from mailwatch.store.tickets import (
    StoredEvent,
    insert_events,
    load_open_ticket,
    load_ticket,
    next_number,
    open_tickets,
    save_ticket,
    take_number,
)

if TYPE_CHECKING:
    from mailwatch.config.checks import CheckBase
    from mailwatch.config.model import MailwatchConfig


@dataclass(frozen=True)
class ProcessOutcome:
    """What one transaction stored."""

    state: CheckState
    events: list[StoredEvent] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    result_id: int | None = None
    vote: Vote | None = None
    """The count of the sites, for a check run from several (``run_from``)."""
    site_awaits: bool | None = None
    """For such a check: whether this site's failure awaits confirmation."""

    @property
    def awaits_confirmation(self) -> bool:
        """The failure just recorded awaits confirmation: no ticket holds it yet, so the
        check should run again after its ``retry_interval_s`` (at this site)."""
        if self.site_awaits is not None:
            return self.site_awaits
        return self.state.awaits_confirmation


@dataclass(frozen=True)
class RunBy:
    """Who ran the check: the node holding ``lease``, and what the check remembers now
    (``memory``, None when unchanged since it was last stored)."""

    node: str
    lease: LeaseKey
    memory: Mapping[str, Any] | None = None


async def process_result(
    store: Store,
    config: MailwatchConfig,
    result: CheckResult,
    now: datetime,
    run_by: RunBy | None = None,
    vantage: NodeIdentity | None = None,
) -> ProcessOutcome:
    """Record ``result`` and everything the engine decides about it, in one transaction.

    With ``run_by`` (the daemon's runs) the node must still hold the check's lease in that
    transaction, so two nodes never both count a failure; ``LeaseLostError`` otherwise, and
    nothing is written. The check's memory is written with the result. ``vantage`` is the
    node and site that ran it: the result is stored with its site, and a check run from
    several sites (``run_from``) is decided by their vote."""
    key = dedup_key(result.check, result.target)
    policy = policy_for(config, result.check)
    site = vantage.site if vantage is not None else None
    node = run_by.node if run_by is not None else vantage.name if vantage is not None else None

    async def transaction() -> ProcessOutcome:
        async with store.write() as conn:
            if run_by is not None:
                if not await holds(conn, run_by.node, run_by.lease):
                    raise LeaseLostError(
                        f"{result.check}: node {run_by.node} no longer holds its lease; "
                        "the result of its run is not kept"
                    )
                if run_by.memory is not None:
                    await save_memory(conn, run_by.lease, run_by.memory, run_by.node, now)
            result_id = await insert_result(
                conn,
                result,
                key,
                now,
                config.incidents.result_retention,
                node,
                site,
            )
            state = await load_check_state(conn, key, result.check, result.target)
            context = await load_context(conn, config, result.check, now)
            check = config.check_named(result.check)
            # A voting check's history is kept per site; any other check's under one site
            # whichever node ran it, so a failover does not split its graphs.
            voter = None  # the check and the node that ran it, when the sites vote on it
            if check is not None and check.votes and vantage is not None:
                voter = (check, vantage)
            history_site = voter[1].site if voter is not None else OWNER_SITE
            quiet = context.quiet is not None
            await apart(
                conn,
                f"check {result.check}: history",
                lambda: record_history(conn, result, history_site, quiet),
            )
            if voter is not None:
                return await _vote(
                    conn, config, voter[0], result, voter[1], state, context, now, result_id
                )
            decision = evaluate(state, result, policy, now, context)
            return await write_decision(conn, config, decision, now, result_id, result)

    return await retrying(f"check {result.check}", transaction)


async def _vote(
    conn: AsyncConnection,
    config: MailwatchConfig,
    check: CheckBase,
    result: CheckResult,
    node: NodeIdentity,
    state: CheckState,
    context: EngineContext,
    now: datetime,
    result_id: int,
) -> ProcessOutcome:
    """Count ``result`` as its site's, count the sites' votes, and tell the engine what the
    vote decided (nothing while it is undecided). ``mailwatch.incidents.vote`` has the rule."""
    assert check.run_from is not None
    sites = await load_sites(conn, state.dedup_key)
    mine = site_after(sites.get(node.site), node.site, result, now, node.name)
    await save_site(conn, state.dedup_key, check.name, mine, result_id)
    sites[node.site] = mine
    policy = policy_for(config, check.name)
    window = window_s(check.interval_s, check.timeout_s)
    vote = count_votes(sites.values(), check.run_from, check.quorum, policy, window, now)
    told = voted_result(vote, result)
    if told is None:
        outcome = ProcessOutcome(state, result_id=result_id)
    else:
        decision = evaluate(state, told, voted_policy(policy), now, context)
        outcome = await write_decision(conn, config, decision, now, result_id, result)
    held = outcome.state.ticket is not None or outcome.state.reported_to_parent is not None
    return replace(outcome, vote=vote, site_awaits=mine.failing and not held)


async def tick(
    store: Store,
    config: MailwatchConfig,
    now: datetime,
    mine: Callable[[str], bool] | None = None,
) -> list[ProcessOutcome]:
    """Time-driven transitions of every open ticket: SLA breaches, and re-announcing tickets
    whose maintenance window or silence has ended. One short transaction per ticket.
    ``mine`` keeps the tickets of the checks this node answers for (of several nodes, the
    one holding the check's lease)."""
    async with store.read() as conn:
        keys = [
            (t.dedup_key, t.check, t.target)
            for t in await open_tickets(conn)
            if mine is None or mine(t.check)
        ]
    outcomes = []
    for key, check, target in keys:

        async def transaction(
            key: str = key, check: str = check, target: str = target
        ) -> ProcessOutcome | None:
            async with store.write() as conn:
                state = await load_check_state(conn, key, check, target)
                if state.ticket is None:
                    return None  # resolved since the list was read
                context = await load_context(conn, config, check, now)
                decision = on_tick(state, policy_for(config, check), now, context)
                if decision.events or decision.state != state:
                    return await write_decision(conn, config, decision, now, None)
                return None

        outcome = await retrying(f"check {check}: tick", transaction)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


async def load_check_state(conn: AsyncConnection, key: str, check: str, target: str) -> CheckState:
    """The stored state with its open ticket; a fresh state for a key never seen."""
    ticket = await load_open_ticket(conn, key)
    state = await load_state(conn, key, check, target, ticket)
    return state if state is not None else CheckState(key, check, target, ticket=ticket)


async def load_context(
    conn: AsyncConnection, config: MailwatchConfig, check: str, now: datetime
) -> EngineContext:
    """What the engine needs beyond the check's state: the next ticket number, a parent's
    open ticket (the first in ``depends_on`` order), and the quiet period in force."""
    configured = config.check_named(check)
    parents = configured.depends_on if configured is not None else []
    parent_ticket = None
    parent_check = None
    if parents:
        found = {t.check: t.number for t in await open_tickets(conn, parents)}
        parent_check = next((name for name in parents if name in found), None)
        parent_ticket = found.get(parent_check) if parent_check is not None else None
    quiet = quiet_for(check, now, config.maintenance, await active_silences(conn, now))
    return EngineContext(
        next_ticket_number=await next_number(conn),
        parent_ticket=parent_ticket,
        parent_check=parent_check,
        quiet=quiet,
    )


async def write_decision(
    conn: AsyncConnection,
    config: MailwatchConfig,
    decision: Decision,
    now: datetime,
    result_id: int | None,
    result: CheckResult | None = None,
) -> ProcessOutcome:
    """Write a decision inside the caller's transaction: tickets before the events that point
    at them, then the state, the events and the outbox rows the planner asks for, and, when
    ``result`` opened a ticket, the evidence of its root-cause pack."""
    opened = decision.opened
    if opened is not None:
        await take_number(conn, opened.number)
    for changed in decision.tickets:
        await save_ticket(conn, changed, now)
    await save_state(conn, decision.state, now, result_id, result)
    stored = await insert_events(conn, decision.events, result_id)
    if opened is not None and result is not None:
        opened_number, opening = opened.number, result
        shown = format_number(opened_number, config.incidents.ticket_prefix)
        await apart(
            conn,
            f"check {result.check}: root-cause evidence of ticket {shown}",
            lambda: record_opening(conn, config, opened_number, opening, now),
        )
    rows: list[OutboxRow] = []
    own = {ticket.number: ticket for ticket in decision.tickets}
    by_ticket: dict[int | None, list[StoredEvent]] = {}
    for item in stored:
        by_ticket.setdefault(item.event.ticket, []).append(item)
    for number, items in by_ticket.items():
        ticket: Ticket | None = own.get(number) if number is not None else None
        if number is not None and ticket is None:
            ticket = await load_ticket(conn, number)  # a parent's ticket
        rows += await plan_notices(conn, items, ticket, config, now)
    outbox_ids = await insert_outbox(conn, rows, now)
    return ProcessOutcome(decision.state, stored, list(decision.tickets), outbox_ids, result_id)


async def plan_notices(
    conn: AsyncConnection,
    events: Sequence[StoredEvent],
    ticket: Ticket | None,
    config: MailwatchConfig,
    now: datetime,
) -> list[OutboxRow]:
    """The outbox rows for the events of one ticket (``ticket`` None: check-level events,
    which notify nobody): load the ticket's rows, ask the pure planner
    (``mailwatch.alerts.planner``), cancel in ``conn`` the rows it no longer wants, and
    return the rows to insert."""
    if ticket is None or not config.routes:
        return []
    entries = await ticket_entries(conn, ticket.number)
    settings = PlannerSettings.for_ticket(config, ticket, build_routes(config))
    plan = plan_outbox(events, ticket, entries, settings, now)
    for reason, ids in plan.cancelled_by_reason().items():
        await cancel_entries(conn, ids, reason)
    return plan.rows


TicketAction = Callable[[CheckState, Ticket, IncidentPolicy, EngineContext], Decision]
"""A person's action as the engine decides it, on the ticket's check state and ticket."""


async def act_on_ticket(
    store: Store, config: MailwatchConfig, number: int, now: datetime, action: TicketAction
) -> ProcessOutcome:
    """Load ticket ``number`` with its check's state, let ``action`` decide, and write the
    decision, in one transaction (nothing is written when ``action`` raises)."""
    prefix = config.incidents.ticket_prefix

    async def transaction() -> ProcessOutcome:
        async with store.write() as conn:
            ticket = await load_ticket(conn, number)
            if ticket is None:
                raise TicketNotFoundError(f"there is no ticket {format_number(number, prefix)}")
            state = await load_check_state(conn, ticket.dedup_key, ticket.check, ticket.target)
            context = await load_context(conn, config, ticket.check, now)
            decision = action(state, ticket, policy_for(config, ticket.check), context)
            return await write_decision(conn, config, decision, now, None)

    return await retrying(f"ticket {format_number(number, prefix)}", transaction)


async def record_silence(
    store: Store,
    config: MailwatchConfig,
    check: str,
    now: datetime,
    until: datetime,
    reason: str,
    actor: str,
) -> tuple[Silence, list[int]]:
    """Store a silence of ``check`` (or ``all``) from ``now`` to ``until``, and a ``silenced``
    event on every open ticket it covers; the silence and those tickets' numbers."""

    async def transaction() -> tuple[Silence, list[int]]:
        async with store.write() as conn:
            silence = await add_silence(conn, check, now, until, reason, actor)
            payload: dict[str, object] = {"silence": silence.id, "until": iso(silence.until)}
            touched = await _annotate_open(
                conn, config, check, now, EventType.SILENCED, actor, reason, payload
            )
        return silence, touched

    return await retrying(f"silence of {check}", transaction)


async def record_unsilence(
    store: Store, config: MailwatchConfig, check: str, now: datetime, actor: str
) -> tuple[list[Silence], list[int]]:
    """End the active silences of ``check`` (``all``: every active silence), with an
    ``unsilenced`` event on the open tickets each covered; the silences ended and the
    numbers of those tickets."""

    async def transaction() -> tuple[list[Silence], list[int]]:
        async with store.write() as conn:
            active = await active_silences(conn, now)
            ending = [s for s in active if check == ALL_CHECKS or s.check == check]
            touched = await _end_silences(conn, config, ending, now, actor)
        return ending, touched

    return await retrying(f"unsilencing {check}", transaction)


async def record_expiry(
    store: Store, config: MailwatchConfig, silence_id: int, now: datetime, actor: str
) -> tuple[Silence, bool, list[int]]:
    """End silence ``silence_id`` if it is active, as ``record_unsilence`` ends one: the
    silence as it is now, whether this ended it, and the tickets told so.
    ``SilenceNotFoundError`` when there is no such silence."""

    async def transaction() -> tuple[Silence, bool, list[int]]:
        async with store.write() as conn:
            silence = await load_silence(conn, silence_id)
            if silence is None:
                raise SilenceNotFoundError(f"there is no silence {silence_id}")
            if not silence.active_at(now):
                return silence, False, []
            touched = await _end_silences(conn, config, [silence], now, actor)
        return replace(silence, ended_at=now, ended_by=actor), True, touched

    return await retrying(f"silence {silence_id}", transaction)


async def _end_silences(
    conn: AsyncConnection,
    config: MailwatchConfig,
    ending: list[Silence],
    now: datetime,
    actor: str,
) -> list[int]:
    await end_silences(conn, [s.id for s in ending], now, actor)
    touched: list[int] = []
    for silence in ending:
        touched += await _annotate_open(
            conn,
            config,
            silence.check,
            now,
            EventType.UNSILENCED,
            actor,
            None,
            {"silence": silence.id},
        )
    return touched


async def _annotate_open(
    conn: AsyncConnection,
    config: MailwatchConfig,
    check: str,
    now: datetime,
    kind: EventType,
    actor: str,
    note: str | None,
    payload: dict[str, object],
) -> list[int]:
    touched = []
    checks = None if check == ALL_CHECKS else [check]
    for ticket in await open_tickets(conn, checks):
        state = await load_check_state(conn, ticket.dedup_key, ticket.check, ticket.target)
        decision = annotate(state, kind, now, actor, note, payload)
        await write_decision(conn, config, decision, now, None)
        touched.append(ticket.number)
    return touched
