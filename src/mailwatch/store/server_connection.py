"""asyncpg's connection, closed within a bound.

SQLAlchemy closes a pooled connection with asyncpg's ``close()``, which sends Terminate and
waits, without a limit, for the server to hang up. To a server that stopped answering (a
frozen VM, a network path dropping packets) that wait never ends: a daemon told to stop, or a
command done with its work, would hang on its last line. ``BoundedConnection.close`` waits at
most ``CLOSE_TIMEOUT_S`` and then drops the connection, as asyncpg does on a failed close,
without raising (SQLAlchemy would log the failure with a traceback): the server ends the
session when it sees the socket gone.

Imported only for a ``postgresql+asyncpg://`` URL: asyncpg is the ``postgresql`` extra.
"""

from __future__ import annotations

import asyncpg

CLOSE_TIMEOUT_S = 1.0


class BoundedConnection(asyncpg.Connection):  # type: ignore[misc]
    # asyncpg's own signature, which SQLAlchemy calls with and without ``timeout``.
    async def close(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        try:
            await super().close(timeout=CLOSE_TIMEOUT_S if timeout is None else timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self.terminate()  # asyncpg has aborted it already; this makes sure
