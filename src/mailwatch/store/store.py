"""Opening the database, and the two kinds of transaction everything else runs in.

SQLite (the default) runs in WAL mode so the daemon writes while ``mailwatch tickets`` reads;
writers take the lock at ``BEGIN IMMEDIATE`` and wait up to ``BUSY_TIMEOUT_MS`` for each
other, so the CLI and the daemon can share the file. Driver errors become ``StoreError`` here
and nowhere else.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mailwatch.domain.errors import NotMailwatchDatabaseError, StoreBusyError, StoreError
from mailwatch.store.migrations import migrate

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another (the daemon's transactions take milliseconds)."""

SYNCHRONOUS = "NORMAL"
"""In WAL mode, NORMAL never corrupts the database and loses no committed transaction when the
process dies (SIGKILL, OOM); only a power cut can drop the last few commits. FULL would add an
fsync per processed result, which on a small VPS or an SD card costs more than those last
seconds of monitoring history are worth."""

_BEGIN_OPTION = "mailwatch_begin"


class Store:
    """The database of one mailwatch: open it with ``await Store.open(url)``, close it with
    ``await store.close()`` (or ``async with``)."""

    def __init__(self, engine: AsyncEngine, location: str) -> None:
        self.engine = engine
        self.location = location
        # One writer at a time inside this process: SQLite takes one anyway, and a writer
        # waiting here holds no pooled connection and no thread polling the busy handler
        # (with 1,000 routes, waiting writers overflowed the pool and each overflow opened a
        # new connection and thread). Other processes (the CLI) still meet busy_timeout.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, create: bool = True) -> Store:
        """Open (and create or migrate) the database at ``url``.

        ``create=False`` refuses a SQLite file that does not exist yet (the read-only CLI
        commands use it, so a typo in ``[store] url`` is not answered with an empty list).
        """
        parsed = make_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        location = url
        kwargs: dict[str, Any] = {}
        if sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                raise StoreError(f"{url}: mailwatch needs a database file, not memory")
            path = Path(database)
            location = str(path)
            _prepare_file(path, create=create)
        else:
            # The ticket counter and the one-open-ticket rule need serialisable transactions.
            kwargs["isolation_level"] = "SERIALIZABLE"
        engine = create_async_engine(url, **kwargs)
        if sqlite:
            _configure_sqlite(engine)
        store = cls(engine, location)
        try:
            await store._prepare(sqlite)
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def _prepare(self, sqlite: bool) -> None:
        async with self.write() as conn:
            if sqlite:
                problems = (await conn.exec_driver_sql("PRAGMA quick_check")).scalars().all()
                if problems != ["ok"]:
                    shown = "; ".join(str(p) for p in problems[:3])
                    raise NotMailwatchDatabaseError(
                        f"{self.location} is damaged ({shown}). mailwatch will not write to it; "
                        "restore it from a backup or move it away."
                    )
            await conn.run_sync(migrate, self.location, datetime.now(UTC))
        if sqlite:
            # The journal mode is a property of the file; set it once the file is known to be
            # ours, outside any transaction (SQLite refuses the switch inside one).
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                cursor = await driver.execute("PRAGMA journal_mode=WAL")
                await cursor.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes: holds the write lock from its first statement, commits
        at the end of the block, rolls back on an exception."""
        async with self._write_lock, self._transaction("IMMEDIATE") as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot; in WAL mode it never waits for the daemon."""
        async with self._transaction("DEFERRED") as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, mode: str) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(**{_BEGIN_OPTION: mode})
                async with conn.begin():
                    yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise _translate(exc.orig, self.location) from exc
        except sqlite3.Error as exc:
            raise _translate(exc, self.location) from exc

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _prepare_file(path: Path, *, create: bool) -> None:
    """Refuse a missing file unless creating; create its directory when creating."""
    if path.exists():
        return
    if not create:
        raise StoreError(
            f"no database at {path}: the daemon creates it when it first runs "
            "(or check [store] url and [daemon] state_dir)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Per-connection settings, and SQLAlchemy (not the sqlite3 module) issuing BEGIN.

    The sqlite3 module's own transaction handling begins lazily and never for SELECT; taking
    BEGIN over (the recipe in SQLAlchemy's SQLite dialect docs) makes reads repeatable and
    lets writers take the lock up front, so two writers cannot deadlock upgrading their locks.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            f"PRAGMA synchronous = {SYNCHRONOUS}",
            "PRAGMA foreign_keys = ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _translate(exc: BaseException | None, location: str) -> StoreError:
    message = str(exc) if exc is not None else "unknown database error"
    if "locked" in message or "busy" in message:
        return StoreBusyError(
            f"{location} stayed locked by another mailwatch process for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again"
        )
    if "not a database" in message or "malformed" in message or "corrupt" in message:
        return NotMailwatchDatabaseError(
            f"{location} is not a mailwatch database or is damaged ({message}). mailwatch will "
            "not write to it; restore it from a backup or move it away."
        )
    return StoreError(f"{location}: {message}")
