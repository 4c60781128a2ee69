"""The outbox sender: claims due rows, delivers them through their route, records the outcome.

Each row is claimed with a compare-and-set (its status to ``sending``), delivered outside any
transaction, then settled in one transaction with its timeline event: ``delivered``, or
``failed`` with the next attempt after exponential backoff, a row on the route's fallback
after ``fallback_after_attempts`` failures, and ``dead`` past ``give_up_after_s``. A row left
in ``sending`` by a process that died is sent again at start-up (``recover``); a row marked
``delivered`` never is. Once an hour the loop deletes finished rows of tickets resolved more
than ``[outbox] retention_days`` ago (``prune``). See docs/alerts.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts import rules
from mailwatch.alerts.backoff import draw_jitter, retry_delay_s
from mailwatch.alerts.delivery import DeliveryOutcome, UrlOutcome, deliver
from mailwatch.alerts.facts import alert_facts
from mailwatch.alerts.grouping import combine
from mailwatch.alerts.masking import mask_text
from mailwatch.alerts.messages import RenderedAlert, render
from mailwatch.alerts.routes import Route, build_routes
from mailwatch.domain.notices import NoticeKind, OutboxStatus
from mailwatch.domain.quiet import Silence, Window, quiet_for
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import (
    INTERRUPTED,
    OutboxEntry,
    OutboxRow,
    change_status,
    due_rows,
    insert_outbox,
    load_entry,
    prune_finished,
    requeue_interrupted,
    ticket_entries,
    unsent_rows_of_route,
)
from mailwatch.store.silences import active_silences
from mailwatch.store.store import Store
from mailwatch.store.tickets import insert_events, load_ticket
from mailwatch.timefmt import display_zone

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
"""How often the loop deletes finished rows past ``[outbox] retention_days``. Retention is
counted in days, so an hour late costs nothing, and one short delete an hour is all it takes."""


@dataclass
class _Job:
    """One message to send: one row, or several grouped rows of one route."""

    route: Route
    entries: list[OutboxEntry]
    tickets: list[Ticket]
    message: RenderedAlert | None = None


@dataclass
class SendReport:
    """What one ``run_once`` did, for tests and logs."""

    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return len(self.delivered) + len(self.failed) + len(self.dead) + len(self.cancelled)


class OutboxSender:
    """Sends what the outbox holds. ``config`` is called for every pass, so a reload applies;
    ``jitter`` draws the backoff factor (tests pin it to 1)."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], MailwatchConfig],
        *,
        jitter: Callable[[], float] = draw_jitter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.config = config
        self.jitter = jitter
        self.clock = clock
        self._wake = asyncio.Event()
        self._pruned_at: datetime | None = None

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll (a row was just queued)."""
        self._wake.set()

    async def run(self) -> None:
        """The daemon's loop: recover interrupted rows once, then send until cancelled."""
        interrupted = await self.recover(self.clock())
        if interrupted:
            log.warning(
                "outbox: %d notification(s) interrupted by a stop: sending again", len(interrupted)
            )
        while True:
            self._wake.clear()
            busy = False
            try:
                await self.prune(self.clock())
            except Exception:
                log.exception("outbox: deleting finished notifications failed")
            try:
                report = await self.run_once(self.clock())
                busy = report.handled + len(report.deferred) >= self.config().outbox.max_parallel
            except Exception:
                log.exception("outbox: sending failed")
            if busy:
                continue
            try:
                async with asyncio.timeout(self.config().outbox.poll_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def recover(self, now: datetime) -> list[int]:
        """Rows a dead process left in ``sending``: due again now."""
        async with self.store.write() as conn:
            ids = await requeue_interrupted(conn, now)
            for row_id in ids:
                entry = await load_entry(conn, row_id)
                ticket = await load_ticket(conn, entry.ticket) if entry and entry.ticket else None
                if entry is None or ticket is None:
                    continue
                # The attempt was counted when it was requeued; the event names that attempt.
                counted = replace(entry, attempts=entry.attempts - 1)
                event = _event(
                    EventType.NOTIFICATION_FAILED, ticket, counted, now, error=INTERRUPTED
                )
                await insert_events(conn, [event])
            return ids

    async def prune(self, now: datetime) -> int:
        """Delete finished rows past ``[outbox] retention_days`` (``prune_finished`` says
        which), unless the last prune was less than ``PRUNE_EVERY`` ago; how many went."""
        if self._pruned_at is not None and self._pruned_at <= now < self._pruned_at + PRUNE_EVERY:
            return 0
        self._pruned_at = now
        days = self.config().outbox.retention_days
        async with self.store.write() as conn:
            removed = await prune_finished(conn, now, timedelta(days=days))
        if removed:
            log.info(
                "outbox: deleted %d finished notification(s) of tickets resolved more than "
                "%d day(s) ago",
                removed,
                days,
            )
        return removed

    async def run_once(self, now: datetime) -> SendReport:
        """Claim every row due at ``now`` (up to ``max_parallel``), deliver, settle."""
        config = self.config()
        report = SendReport()
        jobs = await self._claim(config, now, report)
        if not jobs:
            return report
        await asyncio.gather(*(self._deliver_and_settle(config, job, now, report) for job in jobs))
        return report

    # ----------------------------------------------------------------------------------------
    # Claiming
    # ----------------------------------------------------------------------------------------

    async def _claim(
        self, config: MailwatchConfig, now: datetime, report: SendReport
    ) -> list[_Job]:
        routes = build_routes(config)
        windows = config.maintenance
        jobs: list[_Job] = []
        async with self.store.write() as conn:
            silences = await active_silences(conn, now)
            claimed: set[int] = set()
            for entry in await due_rows(conn, now, config.outbox.max_parallel):
                if entry.id in claimed:
                    continue
                if not await change_status(conn, entry.id, entry.status, OutboxStatus.SENDING):
                    continue  # another sender took it
                claimed.add(entry.id)
                ticket = await load_ticket(conn, entry.ticket) if entry.ticket else None
                verdict = await _gate(conn, entry, ticket, now, windows, silences)
                if isinstance(verdict, rules.Cancel):
                    await change_status(
                        conn,
                        entry.id,
                        OutboxStatus.SENDING,
                        OutboxStatus.CANCELLED,
                        last_error=verdict.reason,
                    )
                    report.cancelled.append(entry.id)
                    continue
                if isinstance(verdict, rules.Defer):
                    await change_status(
                        conn,
                        entry.id,
                        OutboxStatus.SENDING,
                        entry.status,
                        next_attempt_at=verdict.until,
                    )
                    report.deferred.append(entry.id)
                    continue
                assert ticket is not None
                route = routes.get(entry.route)
                if route is None:
                    # Kept and retried (a reload may bring the route back); still failing, it
                    # counts as stuck for the dead man's switch, and gives up in the end.
                    error = f"route {entry.route!r} is not configured"
                    missing = DeliveryOutcome(False, [UrlOutcome(entry.route, False, error)])
                    await self._failed(config, conn, None, entry, ticket, missing, now, report)
                    continue
                job = _Job(route, [entry], [ticket])
                if entry.kind == NoticeKind.OPENED and entry.payload.get("group"):
                    await _add_group(conn, job, config, now, windows, silences, claimed)
                jobs.append(job)
        return jobs

    # ----------------------------------------------------------------------------------------
    # Delivering and settling
    # ----------------------------------------------------------------------------------------

    async def _deliver_and_settle(
        self, config: MailwatchConfig, job: _Job, now: datetime, report: SendReport
    ) -> None:
        outcome = await _attempt(config, job, now)
        async with self.store.write() as conn:
            for entry, ticket in zip(job.entries, job.tickets, strict=True):
                if outcome.ok:
                    await self._delivered(conn, entry, ticket, outcome, now, len(job.entries))
                    report.delivered.append(entry.id)
                else:
                    await self._failed(config, conn, job.route, entry, ticket, outcome, now, report)

    async def _delivered(
        self,
        conn: AsyncConnection,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
        grouped: int,
    ) -> None:
        attempt = entry.attempts + 1
        await change_status(
            conn,
            entry.id,
            OutboxStatus.SENDING,
            OutboxStatus.DELIVERED,
            attempts=attempt,
            delivered_at=now,
            last_error=None,
        )
        extra: dict[str, Any] = {"grouped_with": grouped - 1} if grouped > 1 else {}
        log.info(
            "%s: %s notice delivered to route %s (attempt %d)",
            format_number(ticket.number, self.config().incidents.ticket_prefix),
            entry.kind,
            entry.route,
            attempt,
        )
        await insert_events(
            conn,
            [_event(EventType.NOTIFICATION_SENT, ticket, entry, now, outcome=outcome, **extra)],
        )

    async def _failed(
        self,
        config: MailwatchConfig,
        conn: AsyncConnection,
        route: Route | None,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
        report: SendReport,
    ) -> None:
        """Settle a failed attempt: retry later, or give up; fall back once, if the route can."""
        settings = config.outbox
        attempt = entry.attempts + 1
        error = _error_text(outcome)
        due_at = _instant(entry.payload.get("due_at")) or entry.created_at
        give_up = (now - due_at).total_seconds() >= settings.give_up_after_s
        events: list[TicketEvent] = []
        # ``error`` is masked already: no URL token reaches the log.
        log.warning(
            "%s: %s notice to route %s failed (attempt %d)%s: %s",
            format_number(ticket.number, config.incidents.ticket_prefix),
            entry.kind,
            entry.route,
            attempt,
            ", giving up" if give_up else "",
            error,
        )
        if give_up:
            await change_status(
                conn,
                entry.id,
                OutboxStatus.SENDING,
                OutboxStatus.DEAD,
                attempts=attempt,
                last_error=error,
            )
            events.append(
                _event(EventType.NOTIFICATION_GIVEN_UP, ticket, entry, now, outcome=outcome)
            )
            report.dead.append(entry.id)
        else:
            delay = retry_delay_s(
                attempt, settings.retry_initial_s, settings.retry_max_s, self.jitter()
            )
            retry_at = now + timedelta(seconds=delay)
            await change_status(
                conn,
                entry.id,
                OutboxStatus.SENDING,
                OutboxStatus.FAILED,
                attempts=attempt,
                next_attempt_at=retry_at,
                last_error=error,
            )
            events.append(
                _event(
                    EventType.NOTIFICATION_FAILED,
                    ticket,
                    entry,
                    now,
                    outcome=outcome,
                    next_attempt_at=iso(retry_at),
                )
            )
            report.failed.append(entry.id)
        if (
            route is not None
            and route.fallback is not None
            and (
                attempt == settings.fallback_after_attempts
                or (give_up and attempt < settings.fallback_after_attempts)
            )
        ):
            queued = await _queue_fallback(conn, entry, route.fallback, now)
            if queued is not None:
                events.append(
                    _event(
                        EventType.NOTIFICATION_FALLBACK,
                        ticket,
                        entry,
                        now,
                        fallback_route=route.fallback,
                        fallback_outbox_id=queued,
                    )
                )
                report.fallbacks.append(queued)
        await insert_events(conn, events)


# --------------------------------------------------------------------------------------------
# Is the row still wanted, and may it go now?
# --------------------------------------------------------------------------------------------


async def _gate(
    conn: AsyncConnection,
    entry: OutboxEntry,
    ticket: Ticket | None,
    now: datetime,
    windows: Sequence[Window],
    silences: Sequence[Silence],
) -> rules.Verdict:
    """The rulebook's verdict on a claimed row (``mailwatch.alerts.rules.gate``).

    Belt and braces: the planner cancels rows when a ticket is acknowledged or resolved, in
    the same transaction; this catches whatever raced with that, and quiet periods that began
    after the row was queued.
    """
    if ticket is None:
        return rules.gate(entry, None, (), None, now)
    quiet = quiet_for(ticket.check, now, windows, silences)
    others = await ticket_entries(conn, ticket.number)
    return rules.gate(entry, ticket, others, quiet, now)


async def _add_group(
    conn: AsyncConnection,
    job: _Job,
    config: MailwatchConfig,
    now: datetime,
    windows: Sequence[Window],
    silences: Sequence[Silence],
    claimed: set[int],
) -> None:
    """Claim the other opening notices of the same route and root cause, queued within
    ``group_wait_s`` of this one, so they go out as one message."""
    leader = job.entries[0]
    window = timedelta(seconds=config.outbox.group_wait_s)
    for other in await _group_candidates(conn, leader):
        if other.id in claimed or other.created_at > leader.created_at + window:
            continue
        if other.created_at < leader.created_at - window:
            continue
        if not await change_status(conn, other.id, other.status, OutboxStatus.SENDING):
            continue
        ticket = await load_ticket(conn, other.ticket) if other.ticket else None
        verdict = await _gate(conn, other, ticket, now, windows, silences)
        if not isinstance(verdict, rules.Send) or ticket is None:
            await change_status(conn, other.id, OutboxStatus.SENDING, other.status)
            continue
        claimed.add(other.id)
        job.entries.append(other)
        job.tickets.append(ticket)


async def _group_candidates(conn: AsyncConnection, leader: OutboxEntry) -> list[OutboxEntry]:
    rows = await unsent_rows_of_route(conn, leader.route, NoticeKind.OPENED.value)
    group = leader.payload.get("group")
    return [r for r in rows if r.id != leader.id and r.payload.get("group") == group]


async def _queue_fallback(
    conn: AsyncConnection, entry: OutboxEntry, fallback: str, now: datetime
) -> int | None:
    """A copy of ``entry`` on the fallback route, once: None if that route already has (or
    had) this very notice."""
    assert entry.ticket is not None
    same = ("kind", "step", "repeat", "breach")
    for other in await ticket_entries(conn, entry.ticket):
        if (
            other.route == fallback
            and other.kind == entry.kind
            and other.event_id == entry.event_id
            and all(other.payload.get(k) == entry.payload.get(k) for k in same)
            and other.status not in (OutboxStatus.CANCELLED, OutboxStatus.DEAD)
        ):
            return None
    payload = dict(entry.payload) | {"fallback_of": entry.id, "fallback_from": entry.route}
    payload["due_at"] = iso(now)
    assert entry.event_id is not None
    row = OutboxRow(
        event_id=entry.event_id,
        ticket=entry.ticket,
        route=fallback,
        kind=entry.kind,
        payload=payload,
        next_attempt_at=now,
    )
    (queued,) = await insert_outbox(conn, [row], now)
    return queued


# --------------------------------------------------------------------------------------------
# One attempt
# --------------------------------------------------------------------------------------------


async def _attempt(config: MailwatchConfig, job: _Job, now: datetime) -> DeliveryOutcome:
    """Render and deliver ``job``; never raises for a delivery problem."""
    zone = display_zone(config.incidents.timezone)
    fmt = job.route.config.format
    messages = [
        render(
            alert_facts(ticket, NoticeKind(entry.kind), config, entry.payload),
            now=now,
            body_format=fmt,
            templates=config.alerts.templates,
            zone=zone,
        )
        for entry, ticket in zip(job.entries, job.tickets, strict=True)
    ]
    message = combine(messages)
    job.message = message
    try:
        return await deliver(
            job.route,
            message.title,
            message.body,
            config.alerts.timeout_s,
            body_format=fmt,
            level=message.level,
        )
    except Exception as exc:  # a bug below us must not leave the row in ``sending``
        log.exception("outbox: delivery through route %s raised", job.route.name)
        error = mask_text(f"{type(exc).__name__}: {exc}")
        return DeliveryOutcome(False, [UrlOutcome(job.route.name, False, error)])


def _error_text(outcome: DeliveryOutcome) -> str:
    failed = [f"{u.masked_url}: {u.error}" for u in outcome.per_url if not u.ok]
    return "; ".join(failed) or "the route has no URL to deliver to"


def _event(
    kind: EventType,
    ticket: Ticket,
    entry: OutboxEntry,
    now: datetime,
    *,
    outcome: DeliveryOutcome | None = None,
    error: str | None = None,
    **extra: Any,
) -> TicketEvent:
    payload: dict[str, Any] = {
        "outbox_id": entry.id,
        "route": entry.route,
        "notice": entry.kind,
        "attempt": entry.attempts + 1,
    }
    for key in ("step", "repeat", "breach", "fallback_of"):
        if entry.payload.get(key) is not None:
            payload[key] = entry.payload[key]
    if outcome is not None:
        payload["urls"] = [
            {"url": u.masked_url, "ok": u.ok, "error": u.error} for u in outcome.per_url
        ]
    payload |= extra
    payload["summary"] = _summary(kind, entry, outcome, error, extra)
    return TicketEvent(
        type=kind,
        at=now,
        check=ticket.check,
        dedup_key=ticket.dedup_key,
        ticket=ticket.number,
        payload=payload,
    )


def _summary(
    kind: EventType,
    entry: OutboxEntry,
    outcome: DeliveryOutcome | None,
    error: str | None,
    extra: dict[str, Any],
) -> str:
    step = entry.payload.get("step")
    notice = f"{entry.kind} notice" + (
        f" (step {step})" if entry.kind == NoticeKind.ESCALATION and step else ""
    )
    where = f"route {entry.route}"
    if kind is EventType.NOTIFICATION_FALLBACK:
        return f"{notice}: {where} keeps failing; also sent through {extra['fallback_route']}"
    if outcome is not None:
        ok = sum(1 for u in outcome.per_url if u.ok)
        tally = f"{ok} of {len(outcome.per_url)} URL(s) took it"
        if kind is EventType.NOTIFICATION_SENT:
            return f"{notice} delivered through {where} ({tally})"
        detail = f"{tally}: {_error_text(outcome)}"
    else:
        detail = error or "unknown error"
    if kind is EventType.NOTIFICATION_GIVEN_UP:
        return f"{notice} through {where}: gave up ({detail})"
    return f"{notice} through {where}: attempt {entry.attempts + 1} failed ({detail})"


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None
