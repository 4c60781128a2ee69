"""The daemon's route tests: a test notice through each route with ``test_every``, on schedule.

When a test is due is read from the store (the last result of ``route-test:NAME``), so a
restart neither sends one early nor forgets one that fell due while the daemon was down. Each
outcome goes through the incident engine like a check's result: a failed test opens a ticket,
a passed one resolves it. While a route fails, it is tested again every ``RETRY_WHILE_FAILING``
(or ``test_every`` if shorter), so a fixed token closes its ticket within the hour.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from mailwatch.alerts.route_tests import run_route_test
from mailwatch.alerts.routes import build_routes
from mailwatch.config import MailwatchConfig
from mailwatch.domain.notices import route_test_check
from mailwatch.domain.results import CheckResult
from mailwatch.domain.tickets import dedup_key
from mailwatch.domain.time import iso
from mailwatch.incidents.processor import load_check_state
from mailwatch.store.outage import log_failure
from mailwatch.store.store import Store

log = logging.getLogger("mailwatch.daemon")

RETRY_WHILE_FAILING = timedelta(hours=1)
"""How soon a route that failed its test is tested again, at most."""

ResultHandler = Callable[[CheckResult], Awaitable[None]]


def next_test_at(
    last_at: datetime | None, failing: bool, every: timedelta, now: datetime
) -> datetime:
    """When the next test of a route is due: now if it was never tested, else ``every``
    after the last test (``RETRY_WHILE_FAILING`` after it, if sooner, while it fails)."""
    if last_at is None:
        return now
    return last_at + (min(every, RETRY_WHILE_FAILING) if failing else every)


class RouteTester:
    """Sends each due route test and hands its result to ``on_result`` (the daemon's incident
    path). ``wake()`` after a reload: the schedule is read again from the config and store."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], MailwatchConfig],
        on_result: ResultHandler,
        may_test: Callable[[str], bool] = lambda _route: True,
    ) -> None:
        self._may_test = may_test
        """Whether this node tests the route (of several nodes, the one holding the lease
        of its ``route-test:NAME`` check); ``wake()`` when that changes."""
        self._store = store
        self._config = config
        self._on_result = on_result
        self._wake = asyncio.Event()
        self._host = socket.gethostname()
        self._held_until: dict[str, datetime] = {}

    def wake(self) -> None:
        self._wake.set()

    async def due_times(self, now: datetime) -> dict[str, datetime]:
        """When each tested route's next test is due, from its last stored result."""
        config = self._config()
        due: dict[str, datetime] = {}
        async with self._store.read() as conn:
            for name, route in config.routes.items():
                if route.test_every is None or not self._may_test(name):
                    continue
                check = route_test_check(name)
                state = await load_check_state(conn, dedup_key(check, name), check, name)
                failing = state.bad_streak > 0
                at = next_test_at(state.last_result_at, failing, route.test_every, now)
                held = self._held_until.get(name)
                due[name] = max(at, held) if held is not None else at
        return due

    async def run(self) -> None:
        due = await self.due_times(datetime.now(UTC))
        for name, at in due.items():
            log.info("route %s: next test notice at %s", name, iso(at))
        while True:
            self._wake.clear()
            now = datetime.now(UTC)
            due = await self.due_times(now)
            ready = sorted(name for name, at in due.items() if at <= now)
            if ready:
                for name in ready:
                    await self._test(name)
                continue
            timeout_s = (min(due.values()) - now).total_seconds() if due else None
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _test(self, name: str) -> None:
        config = self._config()
        route = build_routes(config).get(name)
        if route is None:  # removed by a reload
            return
        every = route.config.test_every
        assert every is not None
        try:
            result = await run_route_test(config, route, self._host)
            await self._on_result(result)
        except Exception as exc:
            # Not stored, so the store would say the test is still due: hold it back as if
            # it had failed, rather than send a test notice on every turn of the loop.
            log_failure(log, f"route {name}: the test notice's outcome could not be recorded", exc)
            self._held_until[name] = next_test_at(datetime.now(UTC), True, every, datetime.now(UTC))
            return
        self._held_until.pop(name, None)
        failed = result.stage is not None
        following = next_test_at(result.finished_at, failed, every, result.finished_at)
        log.info(
            "route %s: test notice %s: %s; next at %s",
            name,
            "FAILED" if failed else "delivered",
            result.summary,
            iso(following),
        )
