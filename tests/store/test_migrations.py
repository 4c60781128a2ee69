"""Schema versions: a new database is created at the latest version; an older one is upgraded
to exactly the same shape; a newer, foreign, garbage or damaged file is refused with a clear
message and left byte for byte as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select

from helpers.builders import T0
from mailwatch import __version__
from mailwatch.domain.errors import NewerSchemaError, NotMailwatchDatabaseError, StoreError
from mailwatch.store import LATEST_VERSION, Store
from mailwatch.store.migrations import migrate
from mailwatch.store.outbox import ticket_entries
from mailwatch.store.schema import metadata, schema_version
from mailwatch.store.tickets import load_ticket


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_old_database(path: Path, version: int) -> None:
    """The file an older mailwatch left: the frozen migration steps up to ``version`` only."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            migrate(conn, str(path), T0, to_version=version)
    finally:
        engine.dispose()


def shape(path: Path) -> dict[str, Any]:
    """Every table's columns, foreign keys and indexes (with a partial index's condition), as
    SQLite itself reports them."""
    with closing(sqlite3.connect(path)) as db:
        names = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables: dict[str, Any] = {}
        for table in names:
            indexes = {}
            for _seq, index, unique, origin, partial in db.execute(f"PRAGMA index_list({table})"):
                columns = [column for _n, _cid, column in db.execute(f"PRAGMA index_info({index})")]
                query = "SELECT sql FROM sqlite_master WHERE name = ?"
                # A WITHOUT ROWID table's primary key is the table itself: no row of its own.
                found = db.execute(query, (index,)).fetchone()
                sql = found[0] if found is not None else None
                condition = " ".join(sql.split()).partition(" WHERE ")[2] if sql else ""
                indexes[index] = (bool(unique), origin, bool(partial), columns, condition)
            tables[table] = {
                "columns": db.execute(f"PRAGMA table_info({table})").fetchall(),
                "foreign_keys": db.execute(f"PRAGMA foreign_key_list({table})").fetchall(),
                "indexes": indexes,
            }
    return tables


async def test_new_database_is_at_the_latest_version_with_every_table(tmp_path: Path) -> None:
    path = tmp_path / "new" / "mailwatch.db"
    store = await Store.open(url(path))
    try:
        async with store.read() as conn:
            row = (await conn.execute(select(schema_version))).one()
            tables = await conn.run_sync(
                lambda c: {t: inspect(c).get_columns(t) for t in inspect(c).get_table_names()}
            )
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    finally:
        await store.close()
    assert (row.version, row.written_by) == (LATEST_VERSION, __version__)
    assert mode == "wal"
    assert set(tables) == set(metadata.tables)
    for name, table in metadata.tables.items():
        assert [c["name"] for c in tables[name]] == [c.name for c in table.columns], name
    # Opening again changes nothing.
    store = await Store.open(url(path))
    await store.close()


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION + 1))
async def test_an_upgraded_database_has_the_shape_of_a_new_one(
    tmp_path: Path, old_version: int
) -> None:
    """Frozen steps and ``schema.py`` must agree: a database from any older version, upgraded,
    and a new one both equal the tables ``schema.py`` declares."""
    old = tmp_path / "old.db"
    make_old_database(old, old_version)
    store = await Store.open(url(old))
    await store.close()
    new = tmp_path / "new.db"
    store = await Store.open(url(new))
    await store.close()
    declared = tmp_path / "declared.db"
    engine = create_engine(f"sqlite:///{declared}")
    metadata.create_all(engine)
    engine.dispose()
    assert shape(old) == shape(new)
    assert shape(new) == shape(declared)
    with closing(sqlite3.connect(old)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]


V1_ROWS = [
    "UPDATE ticket_counter SET last_number = 2",
    "INSERT INTO tickets VALUES (1, 'roundtrip:canary', 'canary', 'canary', 1, 'resolved', "
    "'2026-11-23 15:00:00.000000', NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, "
    "'2026-11-23 16:00:00.000000', 'engine', NULL, NULL, 'not_delivered', 'canary is critical', "
    "'2026-11-23 16:00:00.000000')",
    "INSERT INTO tickets VALUES (2, 'roundtrip:imap', 'imap', 'imap', 2, 'acknowledged', "
    "'2026-11-23 15:00:00.000000', NULL, NULL, NULL, 0, 0, '2026-11-23 15:10:00.000000', "
    "'alice', NULL, NULL, NULL, NULL, NULL, NULL, 'imap_login', 'login refused', "
    "'2026-11-23 15:10:00.000000')",
    "INSERT INTO ticket_events VALUES (1, 1, 'roundtrip:canary', 'canary', "
    "'2026-11-23 15:00:00.000000', 'ticket_opened', 'engine', NULL, 1, '{}', NULL)",
    "INSERT INTO ticket_events VALUES (2, 2, 'roundtrip:imap', 'imap', "
    "'2026-11-23 15:00:00.000000', 'ticket_opened', 'engine', NULL, 1, '{}', NULL)",
    "INSERT INTO outbox VALUES (1, 1, 1, 'team', 'opened', '{\"step\": 1}', 'delivered', 1, "
    "'2026-11-23 15:00:00.000000', '2026-11-23 15:00:00.000000', '2026-11-23 15:00:01.000000', "
    "NULL)",
    "INSERT INTO outbox VALUES (2, 2, 2, 'team', 'opened', '{\"step\": 1}', 'failed', 2, "
    "'2026-11-23 15:01:00.000000', '2026-11-23 15:00:00.000000', NULL, 'HTTP 500')",
    "INSERT INTO outbox VALUES (3, 2, 2, 'oncall', 'escalation', '{\"step\": 2}', 'scheduled', "
    "0, '2026-11-23 15:15:00.000000', '2026-11-23 15:00:00.000000', NULL, NULL)",
    "INSERT INTO silences VALUES (1, 'all', '2026-11-23 15:00:00.000000', "
    "'2026-11-23 17:00:00.000000', 'patching', 'alice', NULL, NULL)",
]
"""A few rows in every table an operator cares about, as mailwatch wrote them at version 1."""


def rows_of(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(path)) as db:
        tables = {
            name: sql
            for name, sql in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name != 'schema_version'"
            )
        }
        # A WITHOUT ROWID table (the history's) is ordered by its primary key, the first columns.
        return {
            t: db.execute(
                f"SELECT * FROM {t} ORDER BY {'1, 2, 3, 4' if 'WITHOUT ROWID' in sql else 'rowid'}"
            ).fetchall()
            for t, sql in tables.items()
        }


async def test_a_version_1_database_keeps_its_rows_and_gets_the_outbox_ticket_index(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mailwatch.db"
    make_old_database(path, 1)
    with closing(sqlite3.connect(path)) as db, db:
        for statement in V1_ROWS:
            db.execute(statement)
        assert "outbox_by_ticket" not in [row[1] for row in db.execute("PRAGMA index_list(outbox)")]
    before = rows_of(path)

    store = await Store.open(url(path))
    try:
        async with store.read() as conn:
            entries = await ticket_entries(conn, 2)
            ticket = await load_ticket(conn, 2)
    finally:
        await store.close()

    # Every row kept; outbox rows gain the count of interrupted resends (none) and the start
    # of the attempt in flight (none) of version 3; version 4 adds an empty table; version 5
    # adds the node of each result and the sender node and claim lease (none), and three
    # empty tables; version 6 gives results their site (none known) and adds the sites'
    # states (none); version 7 adds the history's two empty tables.
    assert rows_of(path) == before | {
        "check_results": [(*row, None, None) for row in before["check_results"]],
        "outbox": [(*row, 0, None, None, None) for row in before["outbox"]],
        "announcements": [],
        "nodes": [],
        "leases": [],
        "check_memory": [],
        "site_states": [],
        "history_figures": [],
        "history_availability": [],
    }
    assert [(e.id, e.route, e.status, e.attempts, e.last_error) for e in entries] == [
        (2, "team", "failed", 2, "HTTP 500"),
        (3, "oncall", "scheduled", 0, None),
    ]
    assert [e.interrupted_resends for e in entries] == [0, 0]
    assert entries[1].next_attempt_at == T0 + timedelta(minutes=15)
    assert ticket is not None and ticket.acknowledged_by == "alice"
    with closing(sqlite3.connect(path)) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(outbox)")}
        assert indexes == {"outbox_due", "outbox_by_ticket"}
        columns = [row[2] for row in db.execute("PRAGMA index_info(outbox_by_ticket)")]
        assert columns == ["ticket", "id"]
        # What ``ticket_entries`` asks, answered from the index instead of a scan.
        plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM outbox WHERE ticket = 2 ORDER BY id")
        assert [row[3] for row in plan] == ["SEARCH outbox USING INDEX outbox_by_ticket (ticket=?)"]
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]


async def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "mailwatch.db"
    store = await Store.open(url(path))
    await store.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE schema_version SET version = ?", (LATEST_VERSION + 6,))
    before = digest(path)
    with pytest.raises(NewerSchemaError) as caught:
        await Store.open(url(path))
    message = str(caught.value)
    assert f"schema version is {LATEST_VERSION + 6}" in message
    assert f"understands versions up to {LATEST_VERSION}" in message
    assert "written by a newer mailwatch" in message
    assert digest(path) == before


async def test_garbage_file_is_refused_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "mailwatch.db"
    path.write_bytes(b"this is not SQLite\n" + bytes(range(256)) * 64)
    before = digest(path)
    with pytest.raises(NotMailwatchDatabaseError, match="not a mailwatch database or is damaged"):
        await Store.open(url(path))
    assert digest(path) == before


async def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE users (name TEXT)")
    before = digest(path)
    with pytest.raises(
        NotMailwatchDatabaseError, match=r"has tables \(users\) but no schema_version"
    ):
        await Store.open(url(path))
    assert digest(path) == before


async def test_damaged_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mailwatch.db"
    store = await Store.open(url(path))
    await store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    # Keep the header page; scribble over the b-tree header at the start of every page after
    # it (the middle of a page may be free space, whose damage nothing notices).
    for offset in range(page, len(data), page):
        data[offset : offset + 200] = b"\xa5" * 200
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(NotMailwatchDatabaseError, match="damaged"):
        await Store.open(url(path))
    assert digest(path) == before


async def test_missing_database_is_not_created_for_readers(tmp_path: Path) -> None:
    path = tmp_path / "none" / "mailwatch.db"
    with pytest.raises(StoreError, match="no database at"):
        await Store.open(url(path), create=False)
    assert not path.parent.exists()
