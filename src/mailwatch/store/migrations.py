"""Schema versions: an ordered list of steps, and refusals that never lose data.

``migrate`` runs inside the caller's write transaction, so a step that fails leaves the
database as it was. A database from a newer mailwatch, one that is not mailwatch's, or one
that is damaged is refused with a message naming what was found; it is never recreated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, inspect, select, update

from mailwatch import __version__
from mailwatch.store.schema import metadata, schema_version, ticket_counter


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class NewerSchemaError(StoreError):
    """The database was written by a newer mailwatch."""


class NotMailwatchDatabaseError(StoreError):
    """The file is not a mailwatch database, or it is damaged."""


@dataclass(frozen=True)
class Migration:
    """One step from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_v1(conn: Connection) -> None:
    # Version 1 is the first schema, so it is exactly today's metadata. When version 2 adds a
    # step, freeze this one: copy the version 1 tables here instead of using ``metadata``.
    metadata.create_all(conn)
    conn.execute(insert(ticket_counter).values(id=1, last_number=0))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "results, check states, tickets, timelines, counter, silences, outbox",
        _create_v1,
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version


def migrate(conn: Connection, location: str, now: datetime) -> int:
    """Bring the database to ``LATEST_VERSION``; returns the version it had before.

    Raises ``NewerSchemaError`` or ``NotMailwatchDatabaseError`` without writing anything.
    """
    tables = set(inspect(conn).get_table_names())
    if "schema_version" not in tables:
        if tables:
            listed = ", ".join(sorted(tables)[:5])
            raise NotMailwatchDatabaseError(
                f"{location} is not a mailwatch database: it has tables ({listed}) but no "
                "schema_version table. mailwatch will not write to it; point [store] url "
                "at another file."
            )
        found = 0
    else:
        version = conn.execute(select(schema_version.c.version)).scalar_one_or_none()
        if version is None:
            raise NotMailwatchDatabaseError(
                f"{location} has an empty schema_version table: it is damaged or not a "
                "mailwatch database. mailwatch will not write to it; restore it from a backup "
                "or move it away."
            )
        found = int(version)
    if found > LATEST_VERSION:
        raise NewerSchemaError(
            f"{location} was written by a newer mailwatch: its schema version is {found}, "
            f"and this mailwatch ({__version__}) understands versions up to {LATEST_VERSION}. "
            "Upgrade mailwatch, or point [store] url at another file; the database was left "
            "untouched."
        )
    for step in MIGRATIONS:
        if step.version > found:
            step.apply(conn)
    if found == 0:
        conn.execute(
            insert(schema_version).values(
                id=1, version=LATEST_VERSION, updated_at=now, written_by=__version__
            )
        )
    elif found < LATEST_VERSION:
        conn.execute(
            update(schema_version)
            .where(schema_version.c.id == 1)
            .values(version=LATEST_VERSION, updated_at=now, written_by=__version__)
        )
    return found
