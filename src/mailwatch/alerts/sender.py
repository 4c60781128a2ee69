"""The outbox sender: claims due rows, delivers them through their route, records the outcome.

Each row is claimed with a compare-and-set (its status to ``sending``) and passed through the
rulebook's gate (``mailwatch.alerts.claiming``), delivered outside any transaction
(``mailwatch.alerts.attempt``), then settled in one transaction with its timeline event
(``mailwatch.alerts.settling``): ``delivered``, or ``failed`` with the next attempt after
exponential backoff, a row on the route's fallback after ``fallback_after_attempts``
failures, and ``dead`` past ``give_up_after_s``. A row left in ``sending`` by a process that
died is sent again at start-up, at most ``[outbox] max_interrupted_resends`` times, then
``uncertain`` (``recover``); a row marked ``delivered`` never is. On a stop the loop claims
nothing more and gets ``[daemon] shutdown_grace_s`` to settle what it is sending
(``shutdown``). Once an hour the loop deletes finished rows of tickets resolved more than
``[outbox] retention_days`` ago (``prune``), and history buckets past ``[store]
history_days`` (docs/history.md). See docs/alerts.md and docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mailwatch.alerts import upkeep
from mailwatch.alerts.apprise_setup import load_apprise
from mailwatch.alerts.attempt import Job, attempt
from mailwatch.alerts.backoff import draw_jitter
from mailwatch.alerts.claiming import claim_due
from mailwatch.alerts.settling import SendReport, Settler
from mailwatch.store.outage import log_failure
from mailwatch.store.outbox import Interrupted, mark_attempt_started, renew_claims
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
"""How often the loop deletes finished rows past ``[outbox] retention_days``. Retention is
counted in days, so an hour late costs nothing, and one short delete an hour is all it takes."""


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
        self._stopping = False
        self._in_flight = 0
        self._task: asyncio.Task[None] | None = None
        self._recovered_at: datetime | None = None

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll (a row was just queued)."""
        self._wake.set()

    def start(self) -> asyncio.Task[None]:
        """Run the loop (``run``) as a task of its own, which ``shutdown`` ends."""
        self._task = asyncio.create_task(self.run(), name="outbox-sender")
        return self._task

    async def shutdown(self, grace_s: float) -> int:
        """Claim nothing more, give the deliveries in flight ``grace_s`` to be settled, then
        cancel the loop; how many were cut off (they are ``sending`` until the next start)."""
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is None:
            return 0
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        cut_off = 0 if done else self._in_flight
        if not done:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return cut_off

    async def run(self) -> None:
        """The daemon's loop: recover interrupted rows once, then send until stopped (after
        the deliveries in flight) or cancelled."""
        # Loaded before anything is claimed, so the first claim is not held up by it.
        await asyncio.to_thread(load_apprise)
        # This node's own rows left in ``sending`` by its last stop, before anything is sent;
        # tried again on each pass while the database is away.
        restarted = True
        while not self._stopping:
            self._wake.clear()
            busy = False
            try:
                if restarted:
                    self._report_interrupted(await self.recover(self.clock()))
                    restarted = False
                await self._recover_lapsed(self.clock())
            except Exception as exc:
                log_failure(log, "outbox: settling interrupted notifications failed", exc)
            try:
                await self.prune(self.clock())
            except Exception as exc:
                log_failure(log, "outbox: deleting finished notifications failed", exc)
            if self._stopping:
                break
            try:
                report = await self.run_once(self.clock())
                busy = report.handled + len(report.deferred) >= self.config().outbox.max_parallel
            except Exception as exc:
                log_failure(log, "outbox: sending failed", exc)
            if busy or self._stopping:
                continue
            try:
                async with asyncio.timeout(self.config().outbox.poll_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _recover_lapsed(self, now: datetime) -> None:
        """Every lease_s / 3: rows another node claimed and stopped renewing (it died
        mid-send) are interrupted; this node settles them as it does its own at start-up."""
        every = timedelta(seconds=self.config().node.lease_s / 3)
        if (
            self._recovered_at is not None
            and self._recovered_at <= now < self._recovered_at + every
        ):
            return
        self._recovered_at = now
        self._report_interrupted(await self.recover(now, restarted=False))

    def _report_interrupted(self, interrupted: Interrupted) -> None:
        if interrupted.unsent:
            log.info(
                "outbox: %d notification(s) claimed but not yet sent when mailwatch stopped: "
                "due again",
                len(interrupted.unsent),
            )
        if interrupted.resent:
            log.warning(
                "outbox: %d notification(s) interrupted by a stop: sending again",
                len(interrupted.resent),
            )
        if interrupted.uncertain:
            log.warning(
                "outbox: %d notification(s) interrupted by a stop too often: delivery "
                "uncertain, not sent again ([outbox] max_interrupted_resends = %d)",
                len(interrupted.uncertain),
                self.config().outbox.max_interrupted_resends,
            )

    async def recover(self, now: datetime, *, restarted: bool = True) -> Interrupted:
        """Rows a dead process left in ``sending`` (this node's before it restarted, or
        another node's whose claim lapsed): due again now, or ``uncertain`` once they were
        sent again ``[outbox] max_interrupted_resends`` times after an interruption.
        ``restarted``: at start-up, when this node's own rows in ``sending`` were cut off."""
        config = self.config()
        return await upkeep.recover(
            self.store,
            now,
            config.outbox.max_interrupted_resends,
            config.incidents.ticket_prefix,
            config.node.name if restarted else None,
        )

    async def prune(self, now: datetime) -> int:
        """Delete finished rows past ``[outbox] retention_days`` (``prune_finished`` says
        which), and history past ``[store] history_days`` (``upkeep.prune_history``), unless
        the last prune was less than ``PRUNE_EVERY`` ago; how many outbox rows went."""
        if self._pruned_at is not None and self._pruned_at <= now < self._pruned_at + PRUNE_EVERY:
            return 0
        self._pruned_at = now
        config = self.config()
        removed = await upkeep.prune(self.store, now, config.outbox.retention_days)
        try:
            await upkeep.prune_history(self.store, now, config.store.history_days)
        except Exception as exc:
            log_failure(log, "history: deleting old buckets failed", exc)
        return removed

    async def _keep_claim(self, ids: list[int]) -> None:
        """While an attempt runs (a slow receiver), renew this node's claim on its rows every
        lease_s / 3, so no other node takes them for interrupted and sends them again."""
        while True:
            node = self.config().node
            await asyncio.sleep(node.lease_s / 3)
            until = self.clock() + timedelta(seconds=node.lease_s)
            try:
                async with self.store.write() as conn:
                    await renew_claims(conn, ids, node.name, until)
            except Exception as exc:
                log.error("outbox: claim on notice(s) %s not renewed: %s", ids, exc)

    async def run_once(self, now: datetime) -> SendReport:
        """Claim every row due at ``now`` (up to ``max_parallel``), deliver, settle."""
        config = self.config()

        async def claim() -> tuple[Settler, list[Job]]:
            # A fresh report per attempt: a claim run again must not count its rows twice.
            settler = Settler(config, self.jitter, SendReport())
            async with self.store.write() as conn:
                return settler, await claim_due(conn, settler, now)

        settler, jobs = await retrying("outbox: claiming due notices", claim)
        if jobs:
            await asyncio.gather(*(self._deliver_and_settle(settler, job, now) for job in jobs))
        return settler.report

    async def _deliver_and_settle(self, settler: Settler, job: Job, now: datetime) -> None:
        what = f"outbox: route {job.route}"
        self._in_flight += 1
        try:
            ids = [entry.id for entry in job.entries]

            async def mark_started() -> None:
                async with self.store.write() as conn:
                    await mark_attempt_started(conn, ids, self.clock())

            await retrying(what, mark_started)
            renewal = asyncio.create_task(self._keep_claim(ids), name="outbox-claim")
            try:
                outcome = await attempt(settler.config, job, now)
            finally:
                renewal.cancel()
                await asyncio.gather(renewal, return_exceptions=True)
        finally:
            self._in_flight -= 1

        async def settle() -> SendReport:
            # Recorded in a report of its own, added to the run's once the settling commits.
            part = replace(settler, report=SendReport())
            async with self.store.write() as conn:
                for entry, ticket in zip(job.entries, job.tickets, strict=True):
                    if outcome.ok:
                        await part.delivered(conn, entry, ticket, outcome, now, len(job.entries))
                    else:
                        await part.failed(conn, job.route, entry, ticket, outcome, now)
            return part.report

        settler.report.add(await retrying(what, settle))
