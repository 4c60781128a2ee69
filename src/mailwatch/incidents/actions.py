"""What people do to tickets and checks from the CLI: acknowledge, mitigate, resolve,
silence and unsilence. Each is one write transaction through the same engine and store the
daemon uses, so the CLI works while the daemon runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailwatch.domain.errors import AlreadyDoneError, TicketActionError, UnknownCheckError
from mailwatch.domain.notices import route_test_check
from mailwatch.domain.quiet import ALL_CHECKS, Silence
from mailwatch.domain.tickets import format_number
from mailwatch.incidents.engine import acknowledge, mitigate, resolve
from mailwatch.incidents.processor import (
    ProcessOutcome,
    TicketAction,
    act_on_ticket,
    record_expiry,
    record_silence,
    record_unsilence,
    tick,
)

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.store.store import Store


async def _act(
    store: Store, config: MailwatchConfig, number: int, now: datetime, action: TicketAction
) -> ProcessOutcome:
    prefix = config.incidents.ticket_prefix
    try:
        return await act_on_ticket(store, config, number, now, action)
    except AlreadyDoneError as exc:
        raise AlreadyDoneError(
            f"{format_number(number, prefix)}: {exc}", exc.done, exc.by, exc.at
        ) from None
    except TicketActionError as exc:
        raise TicketActionError(f"{format_number(number, prefix)}: {exc}") from None


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


def silenceable_checks(config: MailwatchConfig) -> list[str]:
    """What a silence may name besides ``all``: the configured checks, then the route-test
    checks of routes with ``test_every``."""
    tested = [route_test_check(n) for n, r in config.routes.items() if r.test_every is not None]
    return sorted(c.name for c in config.checks) + tested


def _check_known(config: MailwatchConfig, check: str) -> None:
    known = silenceable_checks(config)
    if check != ALL_CHECKS and check not in known:
        names = ", ".join(known) or "none configured"
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
    silence, touched = await record_silence(
        store, config, check, now, now + duration, reason, actor
    )
    return SilenceChange([silence], touched)


async def unsilence_check(
    store: Store, config: MailwatchConfig, check: str, actor: str, now: datetime
) -> SilenceChange:
    """End the active silences of ``check`` (``all``: every active silence), then re-evaluate
    open tickets at once rather than at the daemon's next tick."""
    _check_known(config, check)
    ending, touched = await record_unsilence(store, config, check, now, actor)
    await tick(store, config, now)
    return SilenceChange(ending, sorted(set(touched)))


@dataclass(frozen=True)
class SilenceExpiry:
    """What ``silence expire ID`` did: the silence as it now is, whether this command ended
    it (False: it had already ended or run out), and the tickets whose timeline says so."""

    silence: Silence
    ended_now: bool
    tickets: list[int]


async def expire_silence(
    store: Store, config: MailwatchConfig, silence_id: int, actor: str, now: datetime
) -> SilenceExpiry:
    """End silence ``silence_id`` now, as ``unsilence`` ends one, and re-evaluate open tickets
    at once; a silence that has already ended is left as it is."""
    silence, ended_now, touched = await record_expiry(store, config, silence_id, now, actor)
    if ended_now:
        await tick(store, config, now)
    return SilenceExpiry(silence, ended_now, sorted(set(touched)))
