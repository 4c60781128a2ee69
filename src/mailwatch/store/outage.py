"""The database going away and coming back, told once.

When the database server stops, restarts or cannot be reached, every loop of the daemon (the
result handler, the outbox sender, the announcer, the node's heartbeat, the status writer)
fails at its next transaction. Each used to log its own traceback every second; now the store
logs one line when the first transaction fails to reach the database and one when a
transaction succeeds again (with how long it was away and how many results were not stored),
and the loops log a failure for which ``unavailable`` is True at debug level only.
"""

from __future__ import annotations

import logging
import time

from mailwatch.domain.errors import StoreError, StoreUnavailableError

log = logging.getLogger("mailwatch.store")


class Outage:
    """Whether the database is away now, since when, and what was lost meanwhile."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.active = False
        """Tell nothing until the store has opened: a start that cannot reach the database
        is one error (exit 74), said by whoever opened it."""
        self._since: float | None = None
        self._lost = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, error: StoreUnavailableError) -> None:
        """A transaction could not reach the database."""
        if self._since is not None or not self.active:
            return
        self._since = time.monotonic()
        log.error(
            "%s; mailwatch keeps running and trying: results are not stored and notices not "
            "sent until it is back",
            error,
        )

    def lost_result(self) -> None:
        """A check's result was thrown away because the database was away."""
        self._lost += 1

    def succeeded(self) -> None:
        """A transaction committed: the database is back, if it was away."""
        if self._since is None:
            return
        away_s = time.monotonic() - self._since
        lost, self._since, self._lost = self._lost, None, 0
        log.warning(
            "the database at %s is back after %.0f s; %d check result(s) were not stored meanwhile",
            self.location,
            away_s,
            lost,
        )


def unavailable(exc: BaseException) -> bool:
    """True for a failure that is the database being away (already told by ``Outage``)."""
    return isinstance(exc, StoreUnavailableError)


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log a failed pass of one of the daemon's loops, which then goes on.

    The database being away was told once by ``Outage``: debug only. Any other store error is
    one line with the database's own words (which name it as host:port/dbname or a path, never
    the URL): the operator needs what went wrong, not SQLAlchemy's chained traceback. Only a
    failure mailwatch did not foresee, a bug, gets its traceback.
    """
    if unavailable(exc):
        logger.debug("%s: %s", what, exc)
    elif isinstance(exc, StoreError):
        logger.error("%s: %s", what, exc)
    else:
        logger.error("%s", what, exc_info=exc)
