"""Opening the database: only the daemon's open (``create=True``) creates or migrates, and only
where no file exists; what is at the path but cannot be a mailwatch database (a 0-byte file, a
file without tables, a directory) is refused by every open, left exactly as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from mailwatch.domain.errors import (
    DatabaseMissingError,
    NotMailwatchDatabaseError,
    OlderSchemaError,
    StoreError,
)
from mailwatch.store import LATEST_VERSION, Store
from mailwatch.store.schema import schema_version
from store.test_migrations import make_old_database


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def fingerprint(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_zero_byte_file_is_refused_and_left_empty(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "mailwatch.db"
    path.touch()
    with pytest.raises(NotMailwatchDatabaseError) as caught:
        await Store.open(url(path), create=create)
    assert str(caught.value).startswith(f"{path} is empty (0 bytes): it is not a mailwatch")
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == b""
    assert listing(tmp_path) == ["mailwatch.db"]


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_directory_at_the_path_is_one_clear_error(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "mailwatch.db"
    path.mkdir()
    with pytest.raises(StoreError) as caught:
        await Store.open(url(path), create=create)
    assert str(caught.value) == (
        f"{path} is a directory, not a database file: move it away, or point [store] url at a file"
    )
    assert listing(path) == []


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_sqlite_file_without_tables_is_not_given_a_schema(
    tmp_path: Path, create: bool
) -> None:
    path = tmp_path / "mailwatch.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 7")  # a valid, non-empty SQLite file with no tables
    before = fingerprint(path)
    with pytest.raises(NotMailwatchDatabaseError, match="has no mailwatch tables"):
        await Store.open(url(path), create=create)
    assert fingerprint(path) == before


async def test_commands_do_not_create_a_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mailwatch.db"
    with pytest.raises(DatabaseMissingError, match=f"no database at {path}"):
        await Store.open(url(path), create=False)
    assert not path.parent.exists()


async def test_commands_do_not_migrate_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "mailwatch.db"
    make_old_database(path, 1)
    before = fingerprint(path)
    with pytest.raises(OlderSchemaError) as caught:
        await Store.open(url(path), create=False)
    assert "has schema version 1, and this mailwatch" in str(caught.value)
    assert "start the daemon (mailwatch run)" in str(caught.value)
    assert fingerprint(path) == before
    # The daemon's open migrates it; then commands open it.
    await (await Store.open(url(path))).close()
    store = await Store.open(url(path), create=False)
    try:
        async with store.read() as conn:
            assert (await conn.execute(select(schema_version.c.version))).scalar() == (
                LATEST_VERSION
            )
    finally:
        await store.close()


async def test_opening_for_a_command_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "mailwatch.db"
    await (await Store.open(url(path))).close()
    before = fingerprint(path)
    store = await Store.open(url(path), create=False)
    await store.close()
    assert fingerprint(path) == before


async def test_the_daemon_creates_a_complete_database_and_nothing_beside_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "mailwatch.db"
    # What a crash in the middle of an earlier creation leaves: mailwatch's own side file.
    path.parent.mkdir()
    (path.parent / ".mailwatch.db.new").write_bytes(b"half a database")
    (path.parent / ".mailwatch.db.new-journal").write_bytes(b"its journal")
    store = await Store.open(url(path))
    try:
        async with store.read() as conn:
            assert (await conn.execute(select(schema_version.c.version))).scalar() == (
                LATEST_VERSION
            )
    finally:
        await store.close()
    assert listing(path.parent) == ["mailwatch.db"]
    # And it is a database a command may open as it is.
    await (await Store.open(url(path), create=False)).close()
