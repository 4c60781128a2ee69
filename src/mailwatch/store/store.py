"""Opening the database, and the two kinds of transaction everything else runs in.

SQLite (the default) runs in WAL mode so the daemon writes while ``mailwatch tickets`` reads;
writers take the lock at ``BEGIN IMMEDIATE`` and wait up to ``BUSY_TIMEOUT_MS`` for each
other, so the CLI and the daemon can share the file. Driver errors become ``StoreError`` here
and nowhere else.

PostgreSQL runs every transaction SERIALIZABLE. Its database is created empty by its
administrator; the daemon gives it a schema and migrates it while holding an advisory lock
(``MIGRATION_LOCK``), so any number of nodes may start at once on an empty database. Messages
name the server as ``host:port/dbname`` (``Store.location``), never with the URL's password.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mailwatch.domain.errors import (
    DatabaseMissingError,
    NotMailwatchDatabaseError,
    StoreBusyError,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
)
from mailwatch.store.answer_bound import (
    ANSWER_TIMEOUT_S,
    MIGRATION_ANSWER_TIMEOUT_S,
    AnswerBound,
)
from mailwatch.store.migrations import existing_version, installed_version, migrate, require_latest
from mailwatch.store.outage import Outage

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another (the daemon's transactions take milliseconds)."""

SYNCHRONOUS = "NORMAL"
"""In WAL mode, NORMAL never corrupts the database and loses no committed transaction when the
process dies (SIGKILL, OOM); only a power cut can drop the last few commits. FULL would add an
fsync per processed result, which on a small VPS or an SD card costs more than those last
seconds of monitoring history are worth."""

CONNECT_TIMEOUT_S = 10.0
"""How long opening a connection to a database server may take (asyncpg's default is 60 s)."""

MIGRATION_LOCK = 0x6D61696C7761  # "mailwa": any fixed 64-bit key no other program uses
"""The PostgreSQL advisory lock the daemon holds while it checks and migrates the schema."""

MIGRATION_LOCK_TIMEOUT = "60s"
"""How long a starting node waits for another that is migrating (migrations take seconds)."""

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
        self.outage = Outage(location)
        self.answer_timeout_s: float | None = None
        """A server's transactions are cut off after this long (``AnswerBound``): longer while
        the daemon migrates the schema at start. None for SQLite, whose busy timeout bounds
        waiting for another writer."""

    @classmethod
    async def open(cls, url: str, *, create: bool = True) -> Store:
        """Open the database at ``url``.

        ``create=True`` is the daemon's: where no file exists it creates the database, and it
        migrates an older one. ``create=False`` is every other command's: the file must exist
        and hold a mailwatch database at the latest version, and opening it creates, migrates
        and writes nothing (so a typo in ``[store] url`` is not answered with an empty list).
        Either way a file that is there is never given a schema: a 0-byte file, a file
        without mailwatch's tables or a directory at the path is refused.
        """
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError("[store] url is not a database URL") from None
        sqlite = parsed.get_backend_name() == "sqlite"
        location = server_location(parsed)
        kwargs: dict[str, Any] = {}
        if sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                raise StoreError(f"{url}: mailwatch needs a database file, not memory")
            path = Path(database)
            location = str(path)
            if _missing(path, create=create):
                await _create_file(parsed, path)
        else:
            # The ticket counter and the one-open-ticket rule need serialisable transactions.
            kwargs["isolation_level"] = "SERIALIZABLE"
            kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT_S}
            if parsed.get_driver_name() == "asyncpg":
                from mailwatch.store.server_connection import BoundedConnection

                kwargs["connect_args"]["connection_class"] = BoundedConnection
        engine = create_async_engine(url, **kwargs)
        if sqlite:
            _configure_sqlite(engine)
        else:
            _configure_server(engine)
        store = cls(engine, location)
        if not sqlite:
            store.answer_timeout_s = MIGRATION_ANSWER_TIMEOUT_S if create else ANSWER_TIMEOUT_S
        try:
            if create:
                # A server database is created empty by its administrator; a SQLite file
                # only by ``_create_file``, complete.
                await store._migrate(sqlite, schema_may_be_new=not sqlite)
            else:
                await store._require_latest(sqlite)
        except OSError as exc:
            await engine.dispose()
            raise _unreachable(exc, location) from None
        except BaseException:
            await engine.dispose()
            raise
        store.outage.active = True
        if not sqlite:
            store.answer_timeout_s = ANSWER_TIMEOUT_S
        return store

    async def _migrate(self, sqlite: bool, *, schema_may_be_new: bool) -> None:
        if not sqlite:
            async with self._migration_lock():
                await self._migrate_schema(sqlite, schema_may_be_new=schema_may_be_new)
            return
        await self._migrate_schema(sqlite, schema_may_be_new=schema_may_be_new)

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[None]:
        """Hold ``MIGRATION_LOCK`` (a session advisory lock on a connection of its own).

        Taken outside the migrating transaction, so that transaction's snapshot begins after
        whichever node migrated first has committed: it then finds the schema complete. A
        node that dies while holding it loses its session, and the lock with it.
        """
        bound = AnswerBound(self.answer_timeout_s)
        try:
            async with self.engine.connect() as conn:
                await bound.arm(conn)
                try:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text(f"SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"))
                    await conn.execute(
                        text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                    try:
                        yield
                    finally:
                        await conn.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK}
                        )
                finally:
                    bound.disarm()
        except DBAPIError as exc:
            raise bound.error(self.location) or _translate(exc.orig, self.location) from exc

    async def _migrate_schema(self, sqlite: bool, *, schema_may_be_new: bool) -> None:
        async with self.write() as conn:
            if sqlite:
                await _quick_check(conn, self.location)
            if not schema_may_be_new:
                await conn.run_sync(existing_version, self.location)
            await conn.run_sync(migrate, self.location, datetime.now(UTC))
        if sqlite:
            # The journal mode is a property of the file; set it once the file is known to be
            # ours, outside any transaction (SQLite refuses the switch inside one).
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                cursor = await driver.execute("PRAGMA journal_mode=WAL")
                await cursor.close()

    async def _require_latest(self, sqlite: bool) -> None:
        async with self.read() as conn:
            if sqlite:
                await _quick_check(conn, self.location)
            elif await conn.run_sync(installed_version, self.location) == 0:
                # An empty server database is what a missing file is to SQLite.
                raise DatabaseMissingError(
                    f"no mailwatch schema in {self.location} yet: the daemon (mailwatch run) "
                    "creates it when it first runs (or check [store] url)"
                )
            await conn.run_sync(require_latest, self.location)

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
        bound = AnswerBound(self.answer_timeout_s)
        try:
            async with self.engine.connect() as conn:
                await bound.arm(conn)
                try:
                    await conn.execution_options(**{_BEGIN_OPTION: mode})
                    async with conn.begin():
                        yield conn
                finally:
                    bound.disarm()
        except IntegrityError:
            raise
        except DBAPIError as exc:
            error = bound.error(self.location) or _translate(exc.orig, self.location)
            raise self._failed(error) from exc
        except sqlite3.Error as exc:
            raise _translate(exc, self.location) from exc
        except OSError as exc:
            if self.engine.dialect.name == "sqlite":
                raise
            # The server refused or dropped the connection (stopped, restarting, unreachable).
            error = bound.error(self.location) or _unreachable(exc, self.location)
            raise self._failed(error) from exc
        if self.outage.down:
            self.outage.succeeded()

    def _failed(self, error: StoreError) -> StoreError:
        if isinstance(error, StoreUnavailableError):
            self.outage.failed(error)
        return error

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _quick_check(conn: AsyncConnection, location: str) -> None:
    problems = (await conn.exec_driver_sql("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        shown = "; ".join(str(p) for p in problems[:3])
        raise NotMailwatchDatabaseError(
            f"{location} is damaged ({shown}). mailwatch will not write to it; "
            "restore it from a backup or move it away."
        )


def _missing(path: Path, *, create: bool) -> bool:
    """Whether there is no file at ``path`` (and the caller may create one); refuses what is
    there but cannot be a database, before SQLite or its driver thread see it."""
    try:
        found = path.stat()
    except FileNotFoundError:
        if not create:
            raise DatabaseMissingError(
                f"no database at {path}: the daemon (mailwatch run) creates it when it first "
                "runs (or check [store] url and [daemon] state_dir)"
            ) from None
        return True
    except OSError as exc:
        raise StoreError(f"cannot use {path}: {exc.strerror}") from None
    if stat.S_ISDIR(found.st_mode):
        raise StoreError(
            f"{path} is a directory, not a database file: move it away, or point "
            "[store] url at a file"
        )
    if found.st_size == 0:
        raise NotMailwatchDatabaseError(
            f"{path} is empty (0 bytes): it is not a mailwatch database. mailwatch will not "
            "write to it; restore it from a backup or move it away (the daemon creates a new "
            "one where no file exists)."
        )
    return False


async def _create_file(url: URL, path: Path) -> None:
    """Create the database complete in a side file, then move it to ``path``.

    SQLite creates an empty file at connect and fills it at the first commit; built in place,
    a crash in between would leave the 0-byte file every later open refuses. The side file
    is only ever mailwatch's own, so one a crash left behind is removed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
    side = path.with_name(f".{path.name}.new")
    journal = side.with_name(side.name + "-journal")
    try:
        for leftover in (side, journal):
            leftover.unlink(missing_ok=True)
        engine = create_async_engine(url.set(database=str(side)))
        _configure_sqlite(engine)
        builder = Store(engine, str(path))
        try:
            async with builder.write() as conn:
                await conn.run_sync(migrate, str(path), datetime.now(UTC))
        finally:
            await builder.close()
        _move_into_place(side, path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            side.unlink(missing_ok=True)


def _move_into_place(side: Path, path: Path) -> None:
    try:
        # A link never replaces a file: one that appeared meanwhile wins, and is examined like
        # any other when it is opened.
        os.link(side, path)
    except FileExistsError:
        pass
    except OSError:
        if not path.exists():  # a file system without hard links
            side.replace(path)


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


def _configure_server(engine: AsyncEngine) -> None:
    """A connection the driver can no longer use is a lost connection.

    When the server shuts down under an idle or busy session, asyncpg can be left holding a
    connection that is not closed but whose protocol is stuck mid-operation ("cannot switch to
    state 15; another operation (2) is in progress"). SQLAlchemy's asyncpg dialect counts only
    a closed connection as a disconnect, so such a connection went back to the pool and the
    next transaction failed on it too. Marking it a disconnect makes SQLAlchemy throw it (and
    every connection pooled before it) away, and the store tells it as the database being
    away.
    """

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if _is_broken_protocol(context.original_exception):
            context.is_disconnect = True


def server_location(url: URL) -> str:
    """How messages name the database of ``url``: a SQLite file's path, or a server's
    ``host:port/dbname`` (never the user's password, nor the rest of the URL)."""
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database or ""))
    port = url.port or 5432
    if url.host:
        return f"{url.host}:{port}/{url.database or ''}"
    # libpq's multi-host form (``?host=db1:5432&host=db2:5432``) gives a tuple.
    hosts = url.query.get("host") or "localhost"
    listed = (hosts,) if isinstance(hosts, str) else tuple(hosts)
    shown = ",".join(h if ":" in h else f"{h}:{port}" for h in listed)
    return f"{shown}/{url.database or ''}"


def _unreachable(exc: OSError, location: str) -> StoreUnavailableError:
    """A connection that could not be made (refused, no route, unknown host, timed out)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionError) and exc.errno:
        reason = os.strerror(exc.errno)  # not asyncio's "Connect call failed (addr)"
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    return StoreUnavailableError(f"cannot connect to the database at {location}: {reason.lower()}")


def _translate(exc: BaseException | None, location: str) -> StoreError:
    message = str(exc) if exc is not None else "unknown database error"
    if getattr(exc, "sqlstate", None) in CONFLICT_SQLSTATES:
        return StoreConflictError(f"{location}: {message}")
    if _is_disconnect(exc):
        return StoreUnavailableError(f"lost the database at {location}: {message}")
    if exc is not None and _is_login_refusal(exc):
        refused = f"the database at {location} refused mailwatch: {message}"
        if getattr(exc, "sqlstate", None) == "57P03":  # starting up or shutting down
            return StoreUnavailableError(refused)
        return StoreError(refused)
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


def ends_transaction(exc: BaseException) -> bool:
    """Whether ``exc``, raised inside a transaction, is one the whole transaction must end on
    rather than a savepoint absorb: a conflict with a concurrent transaction (which
    ``mailwatch.store.retry`` runs again) or the database going away (told by ``Outage``)."""
    if isinstance(exc, StoreConflictError | StoreUnavailableError | OSError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        translated = _translate(exc.orig, "")
        return isinstance(translated, StoreConflictError | StoreUnavailableError)
    return False


CONFLICT_SQLSTATES = ("40001", "40P01")
"""serialization_failure and deadlock_detected: the transaction lost to a concurrent one and
left nothing behind; ``mailwatch.store.retry`` runs it again."""

_LOGIN_REFUSALS = ("28P01", "28000", "3D000", "57P03", "53300")
"""SQLSTATEs of a server that answers but will not let mailwatch in: bad password, no such
role or no pg_hba.conf entry, no such database, starting up or shutting down, too many
connections."""


_DISCONNECTS = ("57P01", "57P02")
"""SQLSTATEs of a server going away under a session: admin_shutdown, crash_shutdown. Class 08
(connection exceptions) counts too."""


def _is_disconnect(exc: BaseException | None) -> bool:
    """The connection to a server was lost or refused mid-way (not a login refusal)."""
    if exc is None:
        return False
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    if sqlstate in _DISCONNECTS or sqlstate.startswith("08"):
        return True
    if isinstance(exc, OSError):
        return True
    # asyncpg's ConnectionDoesNotExistError / "connection is closed" (an InterfaceError).
    name = type(exc).__name__
    return (
        "ConnectionDoesNotExist" in name
        or "connection is closed" in str(exc)
        or _is_broken_protocol(exc)
    )


def _is_broken_protocol(exc: BaseException | None) -> bool:
    """asyncpg's connection is stuck mid-operation and cannot run another statement: its
    ``InternalClientError`` "cannot switch to state N; another operation (M) is in progress",
    or the ``InterfaceError`` "cannot perform operation: another operation is in progress"
    (mailwatch never shares a connection between tasks, so only a connection left behind by
    an interrupted operation says that). SQLAlchemy's adapter keeps the class name and
    message."""
    return (
        exc is not None
        and type(exc).__name__ in ("InternalClientError", "InterfaceError")
        and "another operation" in str(exc)
    )


def _is_login_refusal(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) in _LOGIN_REFUSALS
