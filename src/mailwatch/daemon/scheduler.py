"""Runs every enabled check on its interval with APScheduler, within concurrency limits.

One job per check: a random first run within the first interval (so a hundred checks do not all
start at once), jitter on every run that does not add up (a check runs ``interval_s`` apart on
average), at most one instance of a check at a time, missed runs coalesced into one. A run that
finds the previous one still going is counted as missed.

Confirmation retries: while a failure awaits its ticket (the result handler says so), the next
run starts ``retry_interval_s`` after the failed one started (at once if that has passed), and
the regular interval goes on from there; that run is told it confirms (``run_check``'s
``confirming``), so a probe may weigh the evidence its previous run left (a missing canary).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from mailwatch.config.checks import CheckBase
from mailwatch.domain.errors import StoreError
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import CheckResult
from mailwatch.runner import run_check
from mailwatch.store.outage import unavailable

log = logging.getLogger(__name__)

ResultHandler = Callable[[CheckBase, CheckResult], Awaitable[bool]]
MemoryLoader = Callable[[CheckBase], Awaitable[dict[str, Any] | None]]
"""Reads what a check remembered when it last ran, on this node or another (None: nothing)."""
"""Takes a check's result; True when the failure awaits confirmation (no ticket holds it yet),
so the check should run again after its ``retry_interval_s``."""

MAX_JITTER_S = 5.0
CLEANUP_AFTER_CANCEL_S = 10.0
"""How long cancelled checks get to clean up at shutdown, whatever the grace period."""


def next_slot(start: float, interval_s: float, previous: float) -> float:
    """The slot ``start + k * interval_s`` after the one ``previous`` (a slot plus jitter) is in.

    The tolerance keeps a fire time that lands exactly on a slot, give or take floating-point
    rounding, in that slot rather than the one before.
    """
    return start + (math.floor((previous - start) / interval_s + 1e-9) + 1) * interval_s


class SteadyInterval(IntervalTrigger):  # type: ignore[misc]
    """Runs at ``start_date + k * interval``, each run up to ``jitter`` seconds late.

    APScheduler's ``IntervalTrigger`` counts each interval from the previous fire time, jitter
    included, so the jitter adds up: a 60 s check with 5 s of jitter ran every 62.5 s on
    average (measured in docs/performance.md). Here the jitter spreads the runs and nothing more.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return super().get_next_fire_time(previous_fire_time, now)  # type: ignore[no-any-return]
        fire_at = next_slot(
            self.start_date.timestamp(), self.interval_length, previous_fire_time.timestamp()
        )
        if self.jitter:
            fire_at += random.uniform(0, self.jitter)
        return datetime.fromtimestamp(fire_at, tz=self.timezone)


def _trigger(check: CheckBase, start: datetime) -> SteadyInterval:
    return SteadyInterval(
        seconds=check.interval_s,
        start_date=start,
        timezone=UTC,
        jitter=min(MAX_JITTER_S, check.interval_s / 10),
    )


class CheckScheduler:
    """Schedules checks; ``apply()`` adds, removes and replaces them while running."""

    def __init__(
        self,
        on_result: ResultHandler,
        max_concurrent: int,
        max_per_kind: Mapping[str, int],
        on_missed: Callable[[str], None] | None = None,
        start_spread_s: float = 60.0,
        may_run: Callable[[str], bool] | None = None,
        load_memory: MemoryLoader | None = None,
        node: NodeIdentity | None = None,
    ) -> None:
        self._start_spread_s = start_spread_s
        self._node = node
        self._may_run = may_run
        """Whether this node holds the check's lease now; a run it does not hold is skipped
        (another node runs the check)."""
        self._load_memory = load_memory
        self._on_result = on_result
        self._on_missed = on_missed
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_listener(self._missed, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._checks: dict[str, CheckBase] = {}
        self._memory: dict[str, dict[str, Any]] = {}
        self._limit = asyncio.Semaphore(max_concurrent)
        self._kind_limits = {kind: asyncio.Semaphore(n) for kind, n in max_per_kind.items()}
        self._running: dict[asyncio.Task[None], str] = {}
        self.missed: Counter[str] = Counter()
        self.runs: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        """Runs skipped because another node holds the check's lease."""
        self.retries: Counter[str] = Counter()
        """Runs brought forward to confirm a failure, per check."""
        self._awaiting: set[str] = set()
        """Checks whose last failure awaits confirmation: their next run is told so."""

    @property
    def checks(self) -> dict[str, CheckBase]:
        return dict(self._checks)

    def start(self, checks: Iterable[CheckBase]) -> None:
        self._scheduler.start()
        self.apply(checks)

    def apply(self, checks: Iterable[CheckBase]) -> None:
        """Make the schedule match ``checks``: new ones start, gone ones stop, changed ones
        restart with their new settings (a run in progress finishes with the old ones)."""
        site = self._node.site if self._node is not None else None
        # A check with run_from runs here only if this node's site is listed.
        wanted = {check.name: check for check in checks if check.enabled and check.runs_at(site)}
        for name in list(self._checks):
            if name not in wanted:
                self._remove(name)
                log.info("check %s removed", name, extra={"check": name})
        for name, check in wanted.items():
            old = self._checks.get(name)
            if old == check:
                continue
            if old is not None:
                self._remove(name, keep_memory=type(old) is type(check))
                log.info("check %s changed", name, extra={"check": name})
            self._add(check)

    def _add(self, check: CheckBase) -> None:
        self._checks[check.name] = check
        spread = min(check.interval_s, self._start_spread_s)
        first = datetime.now(UTC) + timedelta(seconds=random.uniform(0, spread))
        self._scheduler.add_job(
            self._run,
            _trigger(check, first),
            args=[check.name],
            id=check.name,
            name=check.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(check.interval_s)),
            next_run_time=first,
        )

    def _remove(self, name: str, keep_memory: bool = False) -> None:
        self._checks.pop(name, None)
        self._awaiting.discard(name)
        if not keep_memory:
            self._memory.pop(name, None)
        if self._scheduler.get_job(name) is not None:
            self._scheduler.remove_job(name)

    async def _run(self, name: str) -> None:
        check = self._checks.get(name)
        if check is None:
            return
        if self._may_run is not None and not self._may_run(name):
            self.skipped[name] += 1
            return
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = name
        started = datetime.now(UTC)
        try:
            memory = await self._memory_for(check)
            confirming = name in self._awaiting
            kind_limit = self._kind_limits.get(check.kind)
            async with self._limit:
                if kind_limit is not None:
                    async with kind_limit:
                        result = await run_check(
                            check, memory, confirming=confirming, node=self._node
                        )
                else:
                    result = await run_check(check, memory, confirming=confirming, node=self._node)
            self.runs[name] += 1
            awaits = await self._on_result(check, result)
            if self._checks.get(name) is check:
                if awaits:
                    self._awaiting.add(name)
                else:
                    self._awaiting.discard(name)
            if awaits:
                # Once this task is done: APScheduler counts the run as going until then, and
                # a retry due at once would be refused as a second instance.
                task.add_done_callback(lambda _: self._bring_forward(check, started))
        except asyncio.CancelledError:
            # Only shutdown cancels a run (a check's own timeout ends as a result); the job is
            # ours, so end it quietly instead of having APScheduler log a traceback.
            log.info("check %s cancelled at shutdown", name, extra={"check": name})
        except StoreError as exc:
            # The database's own words, which name it as host:port/dbname or a path, never
            # the URL; no traceback (SQLAlchemy's chained error repeats the statement).
            level = logging.DEBUG if unavailable(exc) else logging.ERROR  # told once
            log.log(level, "check %s: result not stored: %s", name, exc, extra={"check": name})
        except Exception:
            # The result handler failing (store locked, disk full) must not stop the schedule.
            log.exception("handling the result of check %s failed", name, extra={"check": name})
        finally:
            self._running.pop(task, None)

    async def _memory_for(self, check: CheckBase) -> dict[str, Any]:
        """The check's memory: kept here between runs, read from the store on its first run
        on this node (at start-up, or after ``forget_memory`` when the lease changed hands)."""
        memory = self._memory.get(check.name)
        if memory is None:
            loaded = await self._load_memory(check) if self._load_memory is not None else None
            memory = self._memory.setdefault(check.name, loaded or {})
        return memory

    def run_soon(self, name: str) -> None:
        """Run ``name`` now unless its next run comes sooner (taken over from a dead node);
        the regular interval goes on from there."""
        check = self._checks.get(name)
        job = self._scheduler.get_job(name) if self._scheduler.running else None
        if check is None or job is None:
            return
        now = datetime.now(UTC)
        if job.next_run_time is not None and job.next_run_time <= now:
            return
        job.modify(trigger=_trigger(check, now), next_run_time=now)

    def memory_of(self, name: str) -> dict[str, Any] | None:
        """What ``name`` remembers now (the daemon stores it with the check's result)."""
        return self._memory.get(name)

    def forget_memory(self, name: str) -> None:
        """Read the check's memory from the store before its next run: another node may have
        run it since this one last did."""
        self._memory.pop(name, None)

    def _bring_forward(self, check: CheckBase, started: datetime) -> None:
        """Run ``check`` again ``confirm_interval_s`` after ``started`` (at once if that has
        passed) unless its next run comes sooner; the interval then counts from the retry."""
        if self._checks.get(check.name) is not check or not self._scheduler.running:
            return  # changed or removed by a reload meanwhile, or shutting down
        if check.confirm_interval_s >= check.interval_s:
            return  # the regular run is the retry; its jitter must not count as one
        job = self._scheduler.get_job(check.name)
        if job is None:
            return
        retry_at = max(datetime.now(UTC), started + timedelta(seconds=check.confirm_interval_s))
        if job.next_run_time is not None and job.next_run_time <= retry_at:
            return
        job.modify(trigger=_trigger(check, retry_at), next_run_time=retry_at)
        self.retries[check.name] += 1
        log.debug("check %s: failure to confirm, next run at %s", check.name, retry_at)

    def next_run(self, name: str) -> datetime | None:
        """When the check runs next, or None when it is not scheduled."""
        job = self._scheduler.get_job(name)
        return None if job is None else job.next_run_time

    def _missed(self, event: JobExecutionEvent) -> None:
        self.missed[event.job_id] += 1
        if self._on_missed is not None:
            self._on_missed(event.job_id)
        log.warning(
            "check %s missed its schedule: the previous run was still going",
            event.job_id,
            extra={"check": event.job_id},
        )

    def describe(self) -> list[str]:
        """One line per job: its check and next run, for a person debugging the daemon."""
        return [f"{job.id} next at {job.next_run_time}" for job in self._scheduler.get_jobs()]

    @property
    def in_flight(self) -> list[str]:
        return sorted(self._running.values())

    async def shutdown(self, grace_s: float) -> list[str]:
        """Stop scheduling, let running checks finish within ``grace_s``, then cancel the rest.

        Returns the names of the checks that had to be cancelled.
        """
        if not self._scheduler.running:
            return []
        # Pause, not shutdown: APScheduler's shutdown cancels running jobs at once, with no
        # grace for a canary that is about to arrive.
        self._scheduler.pause()
        cancelled: list[str] = []
        tasks = list(self._running)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            cancelled = sorted(self._running.get(task, "?") for task in pending)
            for task in pending:
                task.cancel()
            if pending:
                # Cancelled probes clean up (a round trip deletes its canary): bounded too.
                await asyncio.wait(pending, timeout=CLEANUP_AFTER_CANCEL_S)
        self._scheduler.shutdown(wait=False)
        return cancelled
