"""Running a write transaction again when a concurrent one made it fail.

On PostgreSQL every transaction is SERIALIZABLE, so two nodes (or the daemon and a person's
``mailwatch ack``) touching the same rows can make one of them fail with a serialization
failure (SQLSTATE 40001) or a deadlock (40P01). Such a transaction wrote nothing, and running
it again from the start, on fresh reads, is correct: ``retrying`` does, a bounded number of
times with jittered exponential backoff, so a result or a notice is not dropped because
another node wrote at the same moment. SQLite serializes writers with its lock and never
raises these.

The body passed in must be the whole transaction (``async with store.write() as conn: ...``)
and must have no effect outside it, since a failed attempt is thrown away.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mailwatch.domain.errors import StoreConflictError

log = logging.getLogger("mailwatch.store")

T = TypeVar("T")

ATTEMPTS = 8
"""Attempts in all, the first included."""

FIRST_DELAY_S = 0.02
MAX_DELAY_S = 1.0
"""The backoff doubles from ``FIRST_DELAY_S`` up to ``MAX_DELAY_S``; each wait is drawn
uniformly between half of it and all of it, so nodes that collided do not collide again in
step. All waits together stay under 4 s."""


def backoff_s(attempt: int, draw: Callable[[], float] = random.random) -> float:
    """The wait after failed attempt ``attempt`` (1 for the first): between half and all of
    ``FIRST_DELAY_S * 2 ** (attempt - 1)``, at most ``MAX_DELAY_S``."""
    ceiling = min(MAX_DELAY_S, FIRST_DELAY_S * float(2 ** (attempt - 1)))
    return ceiling * (0.5 + 0.5 * draw())


async def retrying(
    what: str,
    transaction: Callable[[], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
    draw: Callable[[], float] = random.random,
) -> T:
    """Run ``transaction`` until it does not fail with ``StoreConflictError``, at most
    ``attempts`` times; its result. ``what`` names the work for the log ("check imap").

    When the attempts run out, logs one error naming ``what`` and the database's error
    (``StoreError`` messages name the server as host:port/dbname, never the URL) and raises
    the last ``StoreConflictError``.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await transaction()
        except StoreConflictError as exc:
            if attempt == attempts:
                log.error(
                    "%s: not stored: %d attempt(s), each lost to a concurrent transaction: %s",
                    what,
                    attempts,
                    exc,
                )
                raise
            delay_s = backoff_s(attempt, draw)
            log.info(
                "%s: a concurrent transaction conflicted (attempt %d of %d); again in %.0f ms",
                what,
                attempt,
                attempts,
                delay_s * 1000,
            )
            await asyncio.sleep(delay_s)
    raise AssertionError("unreachable: attempts must be at least 1")
