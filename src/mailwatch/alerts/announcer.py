"""The announcer: queues the maintenance announcements that are due and delivers them, each
once, with retries.

Each pass stores the due announcements it has not stored yet (``mailwatch.alerts.announcements``
says which; the table's unique key says "once", across restarts), claims the due rows with a
compare-and-set, delivers them through their route outside any transaction, and settles them:
``delivered``; ``failed`` with the next attempt after the outbox's backoff (``[outbox]
retry_initial_s``, ``retry_max_s``); ``dead`` past ``give_up_after_s``; ``cancelled`` when
stale (the window it announces started already) or no longer configured. Announcements are
about no ticket, so they have a table of their own rather than rows in the ticket outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts.announcements import Phase, due, render, wanted_until
from mailwatch.alerts.attempt import error_text
from mailwatch.alerts.backoff import draw_jitter, retry_delay_s
from mailwatch.alerts.delivery import DeliveryOutcome, deliver
from mailwatch.alerts.routes import Route, build_routes
from mailwatch.domain.notices import OutboxStatus
from mailwatch.domain.time import display_zone
from mailwatch.store.announcements import (
    AnnouncementEntry,
    AnnouncementKey,
    AnnouncementRow,
    add_missing,
    change_status,
    due_entries,
    requeue_interrupted,
    stored_keys,
)
from mailwatch.store.outage import log_failure
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger("mailwatch.alerts.announcer")

PASS_EVERY_S = 5.0
"""How often the loop looks for announcements: one a few seconds late is still on time."""


@dataclass
class AnnounceReport:
    """What one pass did, for tests and logs (row ids)."""

    queued: list[int] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


class Announcer:
    """``config`` is called for every pass, so a reload applies; ``jitter`` draws the backoff
    factor and ``clock`` the time (tests pin both)."""

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

    async def run(self) -> None:
        """The daemon's loop: requeue interrupted rows once, then a pass every few seconds."""

        async def requeue() -> int:
            async with self.store.write() as conn:
                return await requeue_interrupted(conn, self.clock())

        try:
            interrupted = await retrying("maintenance: requeueing interrupted", requeue)
        except Exception as exc:
            log_failure(log, "maintenance: requeueing interrupted announcements failed", exc)
            interrupted = 0
        if interrupted:
            log.warning("maintenance: %d announcement(s) interrupted: sending again", interrupted)
        while True:
            try:
                await self.run_once(self.clock())
            except Exception as exc:
                log_failure(log, "maintenance: announcing failed", exc)
            await asyncio.sleep(PASS_EVERY_S)

    async def run_once(self, now: datetime) -> AnnounceReport:
        """Queue what is due at ``now``, then deliver every due row and settle it."""
        config = self.config()
        report = AnnounceReport()
        wanted = [
            AnnouncementRow(
                AnnouncementKey(d.occurrence.window, d.occurrence.starts_at, d.phase, d.route),
                d.occurrence.ends_at,
                d.occurrence.payload(d.phase),
            )
            for d in due(config, now)
        ]
        routes = build_routes(config)
        windows = {w.name for w in config.maintenance if w.announce_before is not None}
        async with self.store.read() as conn:
            # Most passes find nothing to do: they need not wait for the one writer.
            stored = await stored_keys(conn, [row.key for row in wanted])
            idle = all(row.key in stored for row in wanted) and not await due_entries(conn, now, 1)
        if idle:
            return report

        async def claim() -> tuple[AnnounceReport, list[tuple[AnnouncementEntry, Route]]]:
            # The whole transaction, run again from fresh reads if a concurrent one (another
            # node's announcer) made it fail: what it found goes in new lists each attempt.
            claimed = AnnounceReport()
            jobs: list[tuple[AnnouncementEntry, Route]] = []
            async with self.store.write() as conn:
                claimed.queued = await add_missing(conn, wanted, now)
                for entry in await due_entries(conn, now, config.outbox.max_parallel):
                    if not await change_status(conn, entry.id, entry.status, OutboxStatus.SENDING):
                        continue  # another process took it
                    reason = _unwanted(entry, routes, windows, now)
                    if reason is not None:
                        await change_status(
                            conn,
                            entry.id,
                            OutboxStatus.SENDING,
                            OutboxStatus.CANCELLED,
                            last_error=reason,
                        )
                        claimed.cancelled.append(entry.id)
                        continue
                    jobs.append((entry, routes[entry.key.route]))
            return claimed, jobs

        report, jobs = await retrying("maintenance: claiming due announcements", claim)
        if jobs:
            outcomes = await asyncio.gather(
                *(self._deliver(config, entry, route) for entry, route in jobs)
            )

            async def settle() -> AnnounceReport:
                settled = AnnounceReport()
                async with self.store.write() as conn:
                    for (entry, _), outcome in zip(jobs, outcomes, strict=True):
                        await self._settle(conn, config, entry, outcome, now, settled)
                return settled

            settled = await retrying("maintenance: settling announcements", settle)
            report.delivered, report.failed, report.dead = (
                settled.delivered,
                settled.failed,
                settled.dead,
            )
        return report

    async def _deliver(
        self, config: MailwatchConfig, entry: AnnouncementEntry, route: Route
    ) -> DeliveryOutcome:
        key = entry.key
        message = render(
            key.window,
            Phase(key.phase),
            key.starts_at,
            entry.ends_at,
            entry.payload,
            display_zone(config.incidents.timezone),
        )
        return await deliver(
            route, message.title, message.body, config.alerts.timeout_s, body_format="text"
        )

    async def _settle(
        self,
        conn: AsyncConnection,
        config: MailwatchConfig,
        entry: AnnouncementEntry,
        outcome: DeliveryOutcome,
        now: datetime,
        report: AnnounceReport,
    ) -> None:
        key, attempt = entry.key, entry.attempts + 1
        what = f"{key.phase} notice of maintenance window {key.window!r} to route {key.route}"
        if outcome.ok:
            await change_status(
                conn,
                entry.id,
                OutboxStatus.SENDING,
                OutboxStatus.DELIVERED,
                attempts=attempt,
                delivered_at=now,
                last_error=None,
            )
            log.info("maintenance: %s delivered (attempt %d)", what, attempt)
            report.delivered.append(entry.id)
            return
        error = error_text(outcome)
        outbox = config.outbox
        if (now - entry.created_at).total_seconds() >= outbox.give_up_after_s:
            await change_status(
                conn,
                entry.id,
                OutboxStatus.SENDING,
                OutboxStatus.DEAD,
                attempts=attempt,
                last_error=error,
            )
            log.error("maintenance: %s: gave up after %d attempts: %s", what, attempt, error)
            report.dead.append(entry.id)
            return
        delay = retry_delay_s(attempt, outbox.retry_initial_s, outbox.retry_max_s, self.jitter())
        await change_status(
            conn,
            entry.id,
            OutboxStatus.SENDING,
            OutboxStatus.FAILED,
            attempts=attempt,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error,
        )
        log.warning("maintenance: %s failed (attempt %d): %s", what, attempt, error)
        report.failed.append(entry.id)


def _unwanted(
    entry: AnnouncementEntry, routes: dict[str, Route], windows: set[str], now: datetime
) -> str | None:
    key = entry.key
    if key.window not in windows:
        return f"maintenance window {key.window!r} is no longer announced in the config"
    if key.route not in routes:
        return f"route {key.route!r} is not configured"
    if now >= wanted_until(Phase(key.phase), key.starts_at, entry.ends_at):
        return f"stale: the {key.phase} notice was not delivered in time"
    return None
