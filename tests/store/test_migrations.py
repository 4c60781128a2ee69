"""Schema versions: a new database is created at the latest version; a newer, foreign,
garbage or damaged file is refused with a clear message and left byte for byte as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from mailwatch import __version__
from mailwatch.store import LATEST_VERSION, NewerSchemaError, NotMailwatchDatabaseError, Store
from mailwatch.store.migrations import StoreError
from mailwatch.store.schema import metadata, schema_version


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    # Keep the header page; scribble over every page after it.
    for offset in range(page + 100, len(data), page):
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
