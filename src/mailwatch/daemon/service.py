"""``mailwatch run``: the service's lifecycle.

Start: load the config, open the store, tell systemd READY=1, schedule the checks. Every result
goes through the incident engine (one transaction) and into the status file. A heartbeat loop
on the event loop ticks the engine (SLA breaches, quiet periods ending), rewrites the status
file at least every ``status_interval_s`` and pings systemd's watchdog, so a hung loop gets the
service restarted. Beside it run the outbox sender, the route tests (``test_every``) and the
announcer of maintenance windows (``announce_before``). SIGHUP reloads the config (a broken one
is logged and the old one kept); SIGTERM/SIGINT stop scheduling and stop the outbox sender
claiming notices, let running checks and deliveries in flight finish within
``shutdown_grace_s``, then cancel them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from mailwatch import __version__
from mailwatch.alerts.announcer import Announcer
from mailwatch.alerts.route_urls import check_route_urls
from mailwatch.alerts.sender import OutboxSender
from mailwatch.config import MailwatchConfig, load_config
from mailwatch.config.checks import CheckBase
from mailwatch.daemon.deadman import assess, ping
from mailwatch.daemon.metrics import DaemonMetrics, metrics_url
from mailwatch.daemon.node import ClusterNode
from mailwatch.daemon.route_tests import RouteTester
from mailwatch.daemon.scheduler import CheckScheduler
from mailwatch.daemon.sdnotify import SystemdNotifier, watchdog_interval_s
from mailwatch.domain.errors import ConfigError, LeaseLostError, StoreUnavailableError
from mailwatch.domain.nodes import OWNER_SITE
from mailwatch.domain.notices import route_test_check, tested_route
from mailwatch.domain.results import CheckResult
from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import display_zone
from mailwatch.incidents.processor import ProcessOutcome, RunBy, process_result, tick
from mailwatch.logsetup import NOTICE
from mailwatch.probes import probe_for
from mailwatch.status.build import catch_up, count_site_votes, read_stored_facts
from mailwatch.status.changes import StatusVersion
from mailwatch.status.files import StatusWriteError, write_status
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import DaemonInfo, StatusSnapshot, assemble
from mailwatch.store.changes import change_marker
from mailwatch.store.memory import load_memory
from mailwatch.store.nodes import LeaseKey
from mailwatch.store.outage import log_failure, unavailable
from mailwatch.store.outbox import outbox_backlog
from mailwatch.store.store import Store
from mailwatch.web.server import WebServer, web_url

log = logging.getLogger("mailwatch.daemon")

MIN_STATUS_GAP_S = 1.0
"""Results arriving faster than this are folded into one status write."""
STORE_LOOK_S = 1.0
"""While a browser watches (``/live``), the daemon asks the store this often whether another
process (the CLI, another node) changed anything people act on (``store.changes``)."""


class Daemon:
    def __init__(self, config_path: Path, config: MailwatchConfig) -> None:
        self.config_path = config_path
        self.config = config
        self.notifier = SystemdNotifier()
        self.info = DaemonInfo(__version__, os.getpid(), datetime.now(UTC))
        self.checks: dict[str, CheckStatus] = {}
        self.flapping: dict[str, bool] = {}
        self.metrics = DaemonMetrics()
        self._store: Store | None = None
        self._scheduler: CheckScheduler | None = None
        self._stop = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender: OutboxSender | None = None
        self._route_tester: RouteTester | None = None
        self._node: ClusterNode | None = None
        self._stored_memory: dict[str, str] = {}
        """Per check, its memory as last read from or written to the store (JSON text)."""
        self._web: WebServer | None = None
        self._last_heartbeat: datetime | None = None
        self._status_version = StatusVersion()
        self._snapshot_marker: Hashable = None
        """The store's change marker as the last snapshot read it."""

    @property
    def scheduler(self) -> CheckScheduler | None:
        """The running schedule (None before ``run`` has started it)."""
        return self._scheduler

    @property
    def store(self) -> Store:
        """The open store (``run`` opens it before anything else uses it)."""
        assert self._store is not None
        return self._store

    @property
    def last_heartbeat(self) -> datetime | None:
        """When the heartbeat last ticked the engine and wrote the status (None before)."""
        return self._last_heartbeat

    @property
    def status_version(self) -> StatusVersion:
        """Moved by every snapshot (status write, page) that differs in what people act on:
        the web pages' live updates wait on it."""
        return self._status_version

    def changed(self) -> None:
        """A person acted through the web pages: rewrite the status, wake the sender."""
        self._status_dirty.set()
        if self._sender is not None:
            self._sender.wake()

    def stop(self) -> None:
        """Ask ``run`` to shut down, as SIGTERM does."""
        self._stop.set()

    @property
    def state_dir(self) -> Path:
        return self.config.daemon.state_dir

    @property
    def zone(self) -> tzinfo | None:
        return display_zone(self.config.incidents.timezone)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        loop.add_signal_handler(signal.SIGUSR1, self.dump_state)
        url = self.config.store.resolved_url(self.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._store = await Store.open(url)
        try:
            self._sync_check_list(self.config.enabled_checks())
            daemon = self.config.daemon
            self._node = ClusterNode(
                self._store,
                lambda: self.config,
                self._wanted_leases,
                busy=lambda: self._scheduler.in_flight if self._scheduler else (),
                on_gained=self._leases_gained,
            )
            self._scheduler = CheckScheduler(
                self._handle_result,
                daemon.max_concurrent_checks,
                daemon.max_concurrent_per_kind,
                on_missed=self.metrics.missed_run,
                start_spread_s=daemon.start_spread_s,
                may_run=self._node_owns,
                load_memory=self._load_memory,
                node=self.config.node.identity,
            )
            # The leases this node can take before the first runs fall due.
            await self._node.join()
            if (address := self.config.metrics.address) is not None:
                try:
                    self.metrics.serve(*address)
                except OSError as exc:
                    log.error(
                        "[metrics] listen = %r: cannot listen there: %s",
                        self.config.metrics.listen,
                        exc.strerror or exc,
                    )
                    # Not 78: the port may be free again by the time systemd restarts us.
                    return 1
                log.info("metrics on %s", metrics_url(*address))
            if (address := self.config.web.address) is not None:
                self._web = WebServer(self)
                try:
                    await self._web.start(*address)
                except OSError as exc:
                    log.error(
                        "[web] listen = %r: cannot listen there: %s",
                        self.config.web.listen,
                        exc.strerror or exc,
                    )
                    self._web = None
                    return 1
                log.info("web pages on %s", web_url(*address))
            self._scheduler.start(self.config.enabled_checks())
            await self.write_status()
            self.notifier.notify("READY=1", f"STATUS={self._one_line()}")
            log.info(
                "mailwatch %s started: %d check(s), state in %s, event loop %s",
                __version__,
                len(self.checks),
                self.state_dir,
                type(asyncio.get_running_loop()).__module__.partition(".")[0],
            )
            self._tasks = [
                asyncio.create_task(self._heartbeat(), name="heartbeat"),
                asyncio.create_task(self._status_writer(), name="status-writer"),
                asyncio.create_task(self._store_watcher(), name="store-watcher"),
            ]
            node_task = asyncio.create_task(self._node.run(), name="node")
            self._sender = OutboxSender(self._store, lambda: self.config)
            self._sender.start()
            self._route_tester = RouteTester(
                self._store,
                lambda: self.config,
                self._handle_route_test,
                may_test=lambda route: self._node_owns(route_test_check(route)),
            )
            self._tasks.append(asyncio.create_task(self._route_tester.run(), name="route-tests"))
            announcer = Announcer(self._store, lambda: self.config)
            self._tasks.append(asyncio.create_task(announcer.run(), name="announcer"))
            if daemon.deadman_url is not None:
                self._tasks.append(asyncio.create_task(self._deadman(), name="deadman"))
            await self._stop.wait()
            self.notifier.notify(
                "STOPPING=1", "STATUS=stopping: waiting for running checks and deliveries"
            )
            # Checks not running now go to the other nodes at once; the running ones once
            # they finish (or are cut off), below.
            node_task.cancel()
            await asyncio.gather(node_task, return_exceptions=True)
            # Route tests keep theirs until their task ends: a test notice in flight must
            # still be recorded, or the next start would send it again.
            tests = {check for check, _site in self._wanted_leases() if tested_route(check)}
            await self._node.release(keep=set(self._scheduler.in_flight) | tests)
            cancelled, cut_off = await asyncio.gather(
                self._scheduler.shutdown(daemon.shutdown_grace_s),
                self._sender.shutdown(daemon.shutdown_grace_s),
            )
            if cancelled:
                log.warning("cancelled checks still running at shutdown: %s", ", ".join(cancelled))
            if cut_off:
                log.warning(
                    "outbox: %d delivery(ies) still running after shutdown_grace_s (%g s) cut "
                    "off: sent again at the next start",
                    cut_off,
                    daemon.shutdown_grace_s,
                )
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._node.release()
            # The database away (told once): the last status file stays.
            with contextlib.suppress(StoreUnavailableError):
                await self.write_status()
            log.info("mailwatch stopped")
            return 0
        finally:
            if self._web is not None:
                await self._web.stop()
            self.metrics.close()
            await self._store.close()
            self.notifier.close()

    async def reload(self) -> None:
        """SIGHUP: re-read the config; a broken file changes nothing."""
        try:
            new = load_config(self.config_path)
            # As at start (``mailwatch run``): a route URL apprise cannot use is refused.
            check_route_urls(self.config_path, new)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", "; ".join(exc.problems))
            self.notifier.notify("STATUS=reload refused: config invalid; running on the old one")
            return
        if (
            new.store != self.config.store
            or new.daemon.state_dir != self.config.daemon.state_dir
            or new.daemon.event_loop != self.config.daemon.event_loop
        ):
            log.warning(
                "reload: [store], [daemon] state_dir and event_loop take effect on restart only"
            )
        if new.metrics != self.config.metrics:
            log.warning("reload: [metrics] listen takes effect on restart only")
        if new.web.listen != self.config.web.listen:
            log.warning("reload: [web] listen takes effect on restart only")
        self.notifier.notify("RELOADING=1")
        self.config = new
        self._sync_check_list(new.enabled_checks())
        if self._scheduler is not None:
            self._scheduler.apply(new.enabled_checks())
        if self._route_tester is not None:
            self._route_tester.wake()
        if self._node is not None:
            self._node.wake()
        log.info("config reloaded: %d check(s)", len(self.checks))
        self._status_dirty.set()
        self.notifier.notify("READY=1", f"STATUS={self._one_line()}")

    def dump_state(self) -> None:
        """SIGUSR1: log what the daemon is doing (running checks, next runs, task stacks)."""
        if self._scheduler is not None:
            log.warning("running checks: %s", ", ".join(self._scheduler.in_flight) or "none")
            for line in self._scheduler.describe():
                log.warning("scheduled: %s", line)
        for task in asyncio.all_tasks():
            frames = task.get_stack(limit=3)
            where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
            log.warning("task %s: %s", task.get_name(), where or "(not started)")

    def _sync_check_list(self, checks: list[CheckBase]) -> None:
        # Import the configured kinds' probes now (at start, at a reload), not on a first run
        # where the import would hold up the loop while other probes are timing something.
        for kind in sorted({check.kind for check in checks}):
            probe_for(kind)
        known = {check.name: check for check in checks}
        for name in list(self.checks):
            if name not in known:
                del self.checks[name]
        # Every series of a removed check goes with it, counters included.
        self.metrics.track((check.name, check.kind) for check in checks)
        for name, check in known.items():
            status = self.checks.get(name)
            if status is None or status.kind != check.kind or status.target != check.target:
                self.checks[name] = CheckStatus(name, check.kind, check.target)

    async def _handle_result(self, check: CheckBase, result: CheckResult) -> bool:
        """Record ``result``; True when its failure awaits confirmation (the scheduler then
        runs the check again after its ``retry_interval_s``)."""
        status = self.checks.get(check.name)
        if status is None:  # removed by a reload while it ran
            return False
        previous = status.state
        identity = self.config.node.identity
        changed = status.record(result, identity.name, identity.site)
        fields = {"check": check.name}
        if changed:
            log.log(
                NOTICE,
                "%s: %s -> %s%s: %s",
                check.name,
                previous.label,
                result.state.label,
                f" ({result.stage})" if result.stage else "",
                result.summary,
                extra=fields,
            )
        else:
            log.debug("%s: %s: %s", check.name, result.state.label, result.summary, extra=fields)
        self.metrics.record(result)
        assert self._store is not None
        try:
            outcome = await process_result(
                self._store,
                self.config,
                result,
                datetime.now(UTC),
                self._run_by(check.name),
                self.config.node.identity,
            )
        except LeaseLostError as exc:
            log.warning("%s", exc, extra=fields)
            return False
        except StoreUnavailableError:
            # Told once per outage by the store, with the count of results lost meanwhile.
            self.store.outage.lost_result()
            return False
        changed |= self.flapping.get(check.name) != outcome.state.flapping
        self.flapping[check.name] = outcome.state.flapping
        if outcome.outbox_ids and self._sender is not None:
            self._sender.wake()
        self._log_events(outcome)
        # A result that changes nothing a person acts on (the same state again) waits for the
        # heartbeat: rewriting the whole file for each of 1,000 routes a minute cost more CPU
        # than the probes' own Python code (docs/performance.md). A voting check's count of
        # failing sites may have moved with any site's result: that is always news.
        if changed or outcome.events or outcome.vote is not None:
            self._status_dirty.set()
        return outcome.awaits_confirmation

    async def _handle_route_test(self, result: CheckResult) -> None:
        """A route test's outcome, through the same incident path as a check's result (its
        ticket, SLA, acks and status file entries), but not a check of the status file."""
        assert self._store is not None
        try:
            outcome = await process_result(
                self._store, self.config, result, datetime.now(UTC), self._run_by(result.check)
            )
        except LeaseLostError as exc:
            log.warning("%s", exc)
            return
        if outcome.outbox_ids and self._sender is not None:
            self._sender.wake()
        self._log_events(outcome)
        if outcome.events:
            self._status_dirty.set()

    def _wanted_leases(self) -> list[LeaseKey]:
        """One lease per enabled check and per tested route: each runs on one node. A check
        with ``run_from`` has one lease per site, and this node wants its own site's only."""
        config = self.config
        site = config.node.site
        checks = [
            self._lease_key(check.name) for check in config.enabled_checks() if check.runs_at(site)
        ]
        tests = [
            (route_test_check(name), OWNER_SITE)
            for name, route in config.routes.items()
            if route.test_every is not None
        ]
        return checks + tests

    def _lease_key(self, check: str) -> LeaseKey:
        """The lease a run of ``check`` here needs: its site's for a check with ``run_from``
        (each listed site runs it once), else the cluster's one."""
        configured = self.config.check_named(check)
        if configured is not None and configured.votes:
            return (check, self.config.node.site)
        return (check, OWNER_SITE)

    def _node_owns(self, check: str) -> bool:
        return self._node is not None and self._node.owns(*self._lease_key(check))

    def _ticker(self) -> Callable[[str], bool]:
        """Which checks' tickets this node ticks: those of checks it holds, and of checks
        nobody holds any more (removed from the config), so one node ticks each."""
        wanted = {check for check, _site in self._wanted_leases()}

        def mine(check: str) -> bool:
            return self._node_owns(check) or check not in wanted

        return mine

    def _leases_gained(self, keys: set[LeaseKey], lapsed: set[LeaseKey]) -> None:
        # Another node may have run these since this one last did: read their memory again.
        for check, _site in keys:
            self._stored_memory.pop(check, None)
            if self._scheduler is not None:
                self._scheduler.forget_memory(check)
                if (check, _site) in lapsed:
                    # Its last owner died a lease ago: the run it owes is due now.
                    self._scheduler.run_soon(check)
        if self._route_tester is not None:
            self._route_tester.wake()

    async def _load_memory(self, check: CheckBase) -> dict[str, Any] | None:
        assert self._store is not None
        async with self._store.read() as conn:
            memory = await load_memory(conn, self._lease_key(check.name))
        if memory is not None:
            self._stored_memory[check.name] = json.dumps(memory, sort_keys=True)
        return memory

    def _run_by(self, check: str) -> RunBy:
        """This node, the check's lease, and its memory when it changed since last stored."""
        memory = self._scheduler.memory_of(check) if self._scheduler is not None else None
        changed = None
        if memory is not None:
            try:
                text = json.dumps(memory, sort_keys=True)
            except (TypeError, ValueError):
                log.warning("%s: its memory is not JSON; kept on this node only", check)
            else:
                if self._stored_memory.get(check) != text:
                    self._stored_memory[check] = text
                    changed = memory
        return RunBy(self.config.node.name, self._lease_key(check), changed)

    def _log_events(self, outcome: ProcessOutcome) -> None:
        prefix = self.config.incidents.ticket_prefix
        for stored in outcome.events:
            event = stored.event
            number = format_number(event.ticket, prefix) if event.ticket else "-"
            note = f": {event.note}" if event.note else ""
            fields = {"check": event.check, **({"ticket": number} if event.ticket else {})}
            log.log(NOTICE, "%s %s %s%s", number, event.type, event.check, note, extra=fields)

    async def _heartbeat(self) -> None:
        interval = self.config.daemon.status_interval_s
        watchdog = watchdog_interval_s()
        if watchdog is not None:
            interval = min(interval, watchdog)
        while True:
            try:
                assert self._store is not None
                await tick(self._store, self.config, datetime.now(UTC), self._ticker())
                await self.write_status()
            except Exception as exc:
                log_failure(log, "heartbeat failed", exc)
                if unavailable(exc):
                    # This loop is alive and the store told the outage: systemd's watchdog is
                    # for a hung daemon, and a restart would only exit 74 until the database
                    # is back (a hung database is cut off within ANSWER_TIMEOUT_S).
                    reason = " ".join(str(exc).split())
                    self.notifier.notify("WATCHDOG=1", f"STATUS=database away: {reason}")
            else:
                self._last_heartbeat = datetime.now(UTC)
                # Only a loop that could do its work says it is alive.
                self.notifier.notify("WATCHDOG=1", f"STATUS={self._one_line()}")
            await asyncio.sleep(interval)

    async def _deadman(self) -> None:
        while True:
            daemon = self.config.daemon
            targets = daemon.deadman_targets()
            assert self._store is not None
            if targets is not None:  # a reload may have removed it
                health = await assess(self._store, datetime.now(UTC), daemon.outbox_stuck_after_s)
                await ping(*targets, health, daemon.deadman_method)
            await asyncio.sleep(daemon.deadman_interval_s)

    async def _status_writer(self) -> None:
        while True:
            await self._status_dirty.wait()
            self._status_dirty.clear()
            try:
                await self.write_status()
            except Exception as exc:
                log_failure(log, "writing the status file failed", exc)
            await asyncio.sleep(MIN_STATUS_GAP_S)

    async def _store_watcher(self) -> None:
        """While a browser watches, look at the store about once a second, and take a fresh
        snapshot (moving the version) when another process changed something since the
        last one: an ack from the CLI, another node's result, ticket or silence."""
        while True:
            await self._status_version.wait_watched()
            await asyncio.sleep(STORE_LOOK_S)
            if not self._status_version.watchers:
                continue
            try:
                async with self.store.read() as conn:
                    marker = await change_marker(conn)
                if marker != self._snapshot_marker:
                    await self.snapshot()
                    self._status_dirty.set()
            except Exception as exc:
                log_failure(log, "looking for changes in the store failed", exc)

    async def snapshot(self) -> StatusSnapshot:
        """The status model now (the web pages' source, as the status file's)."""
        snapshot, _ = await self._snapshot_and_backlog(datetime.now(UTC))
        return snapshot

    async def _snapshot_and_backlog(self, now: datetime) -> tuple[StatusSnapshot, int]:
        assert self._store is not None
        async with self._store.read() as conn:
            # Read before the facts: a change after it is in them or moves it again.
            marker = await change_marker(conn)
            stored = await read_stored_facts(conn, now)
            backlog = await outbox_backlog(conn)
        self._snapshot_marker = marker
        catch_up(self.checks, stored, self.flapping)
        votes = count_site_votes(self.config, stored.sites, now)
        self.metrics.set_votes(votes)
        snapshot = assemble(
            now,
            self.info,
            self.checks.values(),
            stored,
            self.flapping,
            self.config.maintenance,
            ticket_prefix=self.config.incidents.ticket_prefix,
            votes=votes,
        )
        self._status_version.observe(snapshot)
        self.metrics.set_tickets(stored.tickets)
        self.metrics.set_cluster_view(snapshot.checks)
        return snapshot, backlog

    async def write_status(self) -> None:
        now = datetime.now(UTC)
        snapshot, backlog = await self._snapshot_and_backlog(now)
        self.metrics.outbox_backlog.set(backlog)
        try:
            await asyncio.to_thread(write_status, self.state_dir, snapshot, self.zone, now)
        except StatusWriteError as exc:
            # Monitoring goes on without its status files: one line per failed write.
            log.error("status files not written: %s", exc)

    def _one_line(self) -> str:
        counts: dict[str, int] = {}
        for status in self.checks.values():
            counts[status.state.label] = counts.get(status.state.label, 0) + 1
        tally = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        return f"{len(self.checks)} checks: {tally or 'none'}"
