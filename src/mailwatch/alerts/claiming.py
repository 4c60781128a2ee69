"""Claiming due outbox rows: each with a compare-and-set to ``sending``, then past the gate.

The gate is the rulebook's (``mailwatch.alerts.rules.gate``): a row no longer wanted is
cancelled, one held back by a quiet period or waiting for an earlier notice is put back with
a later due time. Opening notices of one route and root cause are claimed together, to go
out as one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts import rules
from mailwatch.alerts.attempt import Job
from mailwatch.alerts.delivery import DeliveryOutcome, UrlOutcome
from mailwatch.alerts.routes import Route, build_routes
from mailwatch.alerts.settling import Settler
from mailwatch.domain.notices import NoticeKind, OutboxStatus
from mailwatch.domain.quiet import Silence, quiet_for
from mailwatch.domain.tickets import Ticket
from mailwatch.store.outbox import (
    OutboxEntry,
    change_status,
    due_rows,
    ticket_entries,
    unsent_rows_of_route,
)
from mailwatch.store.silences import active_silences
from mailwatch.store.tickets import load_ticket

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


@dataclass
class _Claim:
    """One claiming pass, inside one write transaction."""

    conn: AsyncConnection
    config: MailwatchConfig
    settler: Settler
    now: datetime
    routes: Mapping[str, Route]
    silences: Sequence[Silence]
    claimed: set[int] = field(default_factory=set)

    async def take(self, entry: OutboxEntry) -> Job | None:
        """Claim ``entry``: a job to deliver, or None (taken by another sender, cancelled,
        deferred, or failed at once because its route is gone)."""
        conn, report = self.conn, self.settler.report
        if entry.id in self.claimed:
            return None
        if not await change_status(
            conn, entry.id, entry.status, OutboxStatus.SENDING, **self.claim_values()
        ):
            return None  # another sender took it
        self.claimed.add(entry.id)
        ticket = await load_ticket(conn, entry.ticket) if entry.ticket else None
        verdict = await self.gate(entry, ticket)
        if isinstance(verdict, rules.Cancel):
            await change_status(
                conn,
                entry.id,
                OutboxStatus.SENDING,
                OutboxStatus.CANCELLED,
                last_error=verdict.reason,
            )
            report.cancelled.append(entry.id)
            return None
        if isinstance(verdict, rules.Defer):
            await change_status(
                conn, entry.id, OutboxStatus.SENDING, entry.status, next_attempt_at=verdict.until
            )
            report.deferred.append(entry.id)
            return None
        assert ticket is not None
        route = self.routes.get(entry.route)
        if route is None:
            # Kept and retried (a reload may bring the route back); still failing, it counts
            # as stuck for the dead man's switch, and gives up in the end.
            error = f"route {entry.route!r} is not configured"
            missing = DeliveryOutcome(False, [UrlOutcome(entry.route, False, error)])
            await self.settler.failed(conn, None, entry, ticket, missing, self.now)
            return None
        job = Job(route, [entry], [ticket])
        if entry.kind == NoticeKind.OPENED and entry.payload.get("group"):
            await self.add_group(job)
        return job

    def claim_values(self) -> dict[str, object]:
        """A claim: this node sends the row, and its claim lapses after ``[node] lease_s``
        unless renewed (the sender renews it while the attempt runs)."""
        node = self.config.node
        return {
            "attempt_started_at": None,
            "claimed_by": node.name,
            "claim_expires_at": self.now + timedelta(seconds=node.lease_s),
        }

    async def gate(self, entry: OutboxEntry, ticket: Ticket | None) -> rules.Verdict:
        """The rulebook's verdict on a claimed row.

        Belt and braces: the planner cancels rows when a ticket is acknowledged or resolved,
        in the same transaction; this catches whatever raced with that, and quiet periods
        that began after the row was queued.
        """
        if ticket is None:
            return rules.gate(entry, None, (), None, self.now)
        quiet = quiet_for(ticket.check, self.now, self.config.maintenance, self.silences)
        others = await ticket_entries(self.conn, ticket.number)
        return rules.gate(entry, ticket, others, quiet, self.now)

    async def add_group(self, job: Job) -> None:
        """Claim the other opening notices of the same route and root cause, queued within
        ``group_wait_s`` of this one, so they go out as one message."""
        conn = self.conn
        leader = job.entries[0]
        window = timedelta(seconds=self.config.outbox.group_wait_s)
        for other in await _group_candidates(conn, leader):
            if other.id in self.claimed or other.created_at > leader.created_at + window:
                continue
            if other.created_at < leader.created_at - window:
                continue
            if not await change_status(
                conn, other.id, other.status, OutboxStatus.SENDING, **self.claim_values()
            ):
                continue
            ticket = await load_ticket(conn, other.ticket) if other.ticket else None
            verdict = await self.gate(other, ticket)
            if not isinstance(verdict, rules.Send) or ticket is None:
                await change_status(conn, other.id, OutboxStatus.SENDING, other.status)
                continue
            self.claimed.add(other.id)
            job.entries.append(other)
            job.tickets.append(ticket)


async def claim_due(conn: AsyncConnection, settler: Settler, now: datetime) -> list[Job]:
    """Claim the rows due at ``now`` (up to ``[outbox] max_parallel``) in ``conn``; the jobs
    to deliver. Rows cancelled, deferred or failed at once are in ``settler.report``."""
    config = settler.config
    routes = build_routes(config)
    claim = _Claim(conn, config, settler, now, routes, await active_silences(conn, now))
    jobs = []
    for entry in await due_rows(conn, now, config.outbox.max_parallel):
        job = await claim.take(entry)
        if job is not None:
            jobs.append(job)
    return jobs


async def _group_candidates(conn: AsyncConnection, leader: OutboxEntry) -> list[OutboxEntry]:
    rows = await unsent_rows_of_route(conn, leader.route, NoticeKind.OPENED.value)
    group = leader.payload.get("group")
    return [r for r in rows if r.id != leader.id and r.payload.get("group") == group]
