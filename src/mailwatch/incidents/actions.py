"""What people do to tickets and checks from the CLI: acknowledge, mitigate, resolve,
silence and unsilence. Each is one write transaction through the same engine and store the
daemon uses, so the CLI works while the daemon runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.errors import TicketActionError, TicketNotFoundError, UnknownCheckError
from mailwatch.domain.quiet import ALL_CHECKS, Silence
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType
from mailwatch.incidents.engine import (
    Decision,
    EngineContext,
    acknowledge,
    annotate,
    mitigate,
    resolve,
)
from mailwatch.incidents.policy import IncidentPolicy, policy_for
from mailwatch.incidents.processor import (
    ProcessOutcome,
    load_check_state,
    load_context,
    tick,
    write_decision,
)
from mailwatch.store.silences import active_silences, add_silence, end_silences
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_ticket, open_tickets

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


_Action = Callable[[CheckState, Ticket, IncidentPolicy, EngineContext], Decision]


async def _act(
    store: Store, config: MailwatchConfig, number: int, now: datetime, action: _Action
) -> ProcessOutcome:
    prefix = config.incidents.ticket_prefix
    async with store.write() as conn:
        ticket = await load_ticket(conn, number)
        if ticket is None:
            raise TicketNotFoundError(f"there is no ticket {format_number(number, prefix)}")
        state = await load_check_state(conn, ticket.dedup_key, ticket.check, ticket.target)
        context = await load_context(conn, config, ticket.check, now)
        try:
            decision = action(state, ticket, policy_for(config, ticket.check), context)
        except TicketActionError as exc:
            raise TicketActionError(f"{format_number(number, prefix)}: {exc}") from None
        return await write_decision(conn, config, decision, now, None)


async def acknowledge_ticket(
    store: Store,
    config: MailwatchConfig,
    number: int,
    actor: str,
    note: str | None,
    now: datetime,
) -> ProcessOutcome:
    return await _act(
        store,
        config,
        number,
        now,
        lambda state, ticket, policy, ctx: acknowledge(
            state, ticket, actor, note, policy, now, ctx
        ),
    )


async def mitigate_ticket(
    store: Store, config: MailwatchConfig, number: int, actor: str, note: str, now: datetime
) -> ProcessOutcome:
    return await _act(
        store,
        config,
        number,
        now,
        lambda state, ticket, _policy, ctx: mitigate(state, ticket, actor, note, now, ctx),
    )


async def resolve_ticket(
    store: Store, config: MailwatchConfig, number: int, actor: str, note: str, now: datetime
) -> ProcessOutcome:
    return await _act(
        store,
        config,
        number,
        now,
        lambda state, ticket, _policy, ctx: resolve(state, ticket, actor, note, now, ctx),
    )


@dataclass(frozen=True)
class SilenceChange:
    """What ``silence``/``unsilence`` did: the silences and the tickets whose timeline says so."""

    silences: list[Silence]
    tickets: list[int]


def _check_known(config: MailwatchConfig, check: str) -> None:
    if check != ALL_CHECKS and all(c.name != check for c in config.checks):
        names = ", ".join(sorted(c.name for c in config.checks)) or "none configured"
        raise UnknownCheckError(f'unknown check {check!r}: use "all" or one of: {names}')


async def silence_check(
    store: Store,
    config: MailwatchConfig,
    check: str,
    duration: timedelta,
    reason: str,
    actor: str,
    now: datetime,
) -> SilenceChange:
    """Silence ``check`` (or ``all``) from now for ``duration``; open tickets it covers get a
    ``silenced`` event."""
    _check_known(config, check)
    async with store.write() as conn:
        silence = await add_silence(conn, check, now, now + duration, reason, actor)
        touched = await _annotate_open(
            conn,
            config,
            check,
            now,
            EventType.SILENCED,
            actor,
            reason,
            {"silence": silence.id, "until": iso(silence.until)},
        )
    return SilenceChange([silence], touched)


async def unsilence_check(
    store: Store, config: MailwatchConfig, check: str, actor: str, now: datetime
) -> SilenceChange:
    """End the active silences of ``check`` (``all``: every active silence), then re-evaluate
    open tickets at once rather than at the daemon's next tick."""
    _check_known(config, check)
    async with store.write() as conn:
        active = await active_silences(conn, now)
        ending = [s for s in active if check == ALL_CHECKS or s.check == check]
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
    await tick(store, config, now)
    return SilenceChange(ending, sorted(set(touched)))


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
