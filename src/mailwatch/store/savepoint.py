"""A write that may fail without taking its transaction with it.

A result's transaction also writes things that are good to have but not worth the result:
its share of the check's history, a new ticket's root-cause evidence. ``apart`` runs such a
write in a SAVEPOINT, so an ordinary error there (a bug, a value the schema refuses) undoes
that write alone, is logged as one line, and the result, its ticket and its notices are still
stored. A conflict with a concurrent transaction or the database going away is not absorbed:
the whole transaction ends, to be run again (``mailwatch.store.retry``) or told as an outage.
SQLAlchemy issues the BEGIN on SQLite too (``mailwatch.store.store``), so savepoints work on
both engines.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.store.store import ends_transaction

log = logging.getLogger("mailwatch.store")


async def apart(conn: AsyncConnection, what: str, write: Callable[[], Awaitable[object]]) -> bool:
    """Run ``write`` in a savepoint of ``conn``'s transaction; whether it was written.

    On an ordinary exception the savepoint is rolled back and one warning names ``what``
    ("check imap: history") and the error; one that ``ends_transaction`` propagates."""
    try:
        async with conn.begin_nested():
            await write()
    except Exception as exc:
        if ends_transaction(exc):
            raise
        log.warning("%s: not recorded, the rest is stored: %s", what, _reason(exc))
        return False
    return True


def _reason(exc: Exception) -> str:
    """The error without SQLAlchemy's statement and parameters (they may hold data)."""
    shown = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return str(shown).splitlines()[0] if str(shown) else type(shown).__name__
