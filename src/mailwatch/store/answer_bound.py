"""A transaction on a database server that gets no answer is cut off, not waited on forever.

A server that is frozen (a stopped VM, ``SIGSTOP``, a storage stall) or a network path that
drops packets without a reset never answers and never closes the connection: asyncpg waits
without end (its own ``command_timeout`` only sends a cancel request, which waits for the
same frozen server, and the connection cannot be used until that returns). Every loop of the
daemon would hang on its next transaction, the web pages with them, and systemd's watchdog
would restart a daemon that had told nothing.

``AnswerBound`` arms a timer when a transaction gets its connection; if the transaction has
not ended when it fires, the connection is terminated (its socket closed at once, no
goodbye). Whatever the transaction awaits then fails as a lost connection, SQLAlchemy throws
the connection away, and the store tells the database as away ("no answer from the database
at HOST:PORT/DB within 15 s"), once, like any other outage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.errors import StoreUnavailableError

ANSWER_TIMEOUT_S = 15.0
"""How long one transaction on a server may take, from getting its connection to its commit.
mailwatch's transactions take milliseconds; a year's report reads for a second or two. Well
below systemd's ``WatchdogSec=60s``: the heartbeat, every 30 s under it, pings the watchdog
even when the database is away, and a heartbeat stuck on a frozen server gets its answer (an
error) within a new connection's 10 s plus this bound."""

MIGRATION_ANSWER_TIMEOUT_S = 600.0
"""The bound while the daemon starts: waiting for another node's migration (the advisory lock)
and migrating a large database may take minutes, never ten."""


class AnswerBound:
    """The timer of one transaction; ``arm`` once it has its connection, ``disarm`` when it
    ends, ``error`` after a failure: the outage to report if the timer cut it off."""

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s
        self._handle: asyncio.TimerHandle | None = None
        self.fired = False

    async def arm(self, conn: AsyncConnection) -> None:
        if self.timeout_s is None:
            return
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection

        def cut_off() -> None:
            self.fired = True
            driver.terminate()

        self._handle = asyncio.get_running_loop().call_later(self.timeout_s, cut_off)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def error(self, location: str) -> StoreUnavailableError | None:
        if not self.fired:
            return None
        assert self.timeout_s is not None
        return StoreUnavailableError(
            f"no answer from the database at {location} within {self.timeout_s:g} s"
        )
