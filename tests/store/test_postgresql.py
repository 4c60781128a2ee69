"""The store on a real PostgreSQL server (the session's throwaway cluster): nodes starting at
once on an empty database, commands that never create or migrate a schema, and a server that
cannot be reached or refuses mailwatch, each named as host:port/dbname without the password.

What both engines share (opening, migrating, the processor, the outbox) runs on both through
``store_url`` (``helpers.store_engines``); this file holds what only a server has."""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from harness.postgres import HOST, PASSWORD, PostgresCluster
from helpers.tcp_responders import Responder, forwards_while
from mailwatch.domain.errors import (
    DatabaseMissingError,
    NewerSchemaError,
    NotMailwatchDatabaseError,
    OlderSchemaError,
    StoreError,
    StoreUnavailableError,
)
from mailwatch.store.migrations import LATEST_VERSION, migrate
from mailwatch.store.schema import metadata, schema_version
from mailwatch.store.store import Store

MIGRATE_ONCE = Path(__file__).with_name("migrate_once.py")
NODES = 6
WAIT_S = 60.0


async def tables_of(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """The next line ``proc`` prints, waiting until ``deadline`` (monotonic) at most."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        remaining = deadline - time.monotonic()
        assert remaining > 0 and selector.select(remaining), "no line in time"
    return proc.stdout.readline().strip()


def test_nodes_started_at_once_on_an_empty_database_all_start(postgres_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(MIGRATE_ONCE), postgres_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(NODES)
    ]
    try:
        deadline = time.monotonic() + WAIT_S
        assert [read_line(proc, deadline) for proc in procs] == ["ready"] * NODES
        for proc in procs:  # released together: every one opens an empty database
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = [proc.communicate(timeout=WAIT_S) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [
        (proc.returncode, out.strip(), err)
        for proc, (out, err) in zip(procs, outcomes, strict=True)
    ] == [(0, "opened", "")] * NODES

    async def check() -> None:
        store = await Store.open(postgres_url, create=False)
        try:
            async with store.read() as conn:
                rows = (await conn.execute(select(schema_version.c.version))).scalars().all()
        finally:
            await store.close()
        assert rows == [LATEST_VERSION]

    asyncio.run(check())


async def test_concurrent_opens_in_one_process_all_succeed(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url) for _ in range(4)))
    for store in stores:
        await store.close()
    assert "tickets" in await tables_of(postgres_url)


async def test_commands_do_not_give_an_empty_database_a_schema(postgres_url: str) -> None:
    with pytest.raises(DatabaseMissingError) as caught:
        await Store.open(postgres_url, create=False)
    assert str(caught.value) == (
        f"no mailwatch schema in {HOST}:{PostgresCluster.port}/{dbname(postgres_url)} yet: the "
        "daemon (mailwatch run) creates it when it first runs (or check [store] url)"
    )
    assert await tables_of(postgres_url) == set()


async def test_commands_do_not_migrate_an_older_schema(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate, "old", datetime.now(UTC), to_version=1)
    finally:
        await engine.dispose()
    with pytest.raises(OlderSchemaError, match="has schema version 1"):
        await Store.open(postgres_url, create=False)
    store = await Store.open(postgres_url)  # the daemon migrates it
    try:
        async with store.read() as conn:
            version = (await conn.execute(select(schema_version.c.version))).scalar_one()
            count = (await conn.execute(select(func.count()).select_from(schema_version))).scalar()
    finally:
        await store.close()
    assert (version, count) == (LATEST_VERSION, 1)


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_refused_connection_is_one_message_naming_the_server(
    postgres_cluster: PostgresCluster, create: bool
) -> None:
    port = unused_port()
    with pytest.raises(StoreError) as caught:
        await Store.open(postgres_cluster.url("mailwatch", port=port), create=create)
    assert str(caught.value) == (
        f"cannot connect to the database at {HOST}:{port}/mailwatch: connection refused"
    )


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_wrong_password_is_one_message_without_it(
    postgres_cluster: PostgresCluster, postgres_url: str, create: bool
) -> None:
    wrong = "not-the-" + PASSWORD
    with pytest.raises(StoreError) as caught:
        await Store.open(postgres_cluster.url(dbname(postgres_url), password=wrong), create=create)
    message = str(caught.value)
    assert message == (
        f"the database at {HOST}:{PostgresCluster.port}/{dbname(postgres_url)} refused "
        f'mailwatch: password authentication failed for user "{PostgresCluster.role}"'
    )
    assert wrong not in message and PASSWORD not in message


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_missing_database_is_one_message(
    postgres_cluster: PostgresCluster, create: bool
) -> None:
    with pytest.raises(StoreError) as caught:
        await Store.open(postgres_cluster.url("nosuchdb"), create=create)
    assert str(caught.value) == (
        f"the database at {HOST}:{PostgresCluster.port}/nosuchdb refused mailwatch: "
        'database "nosuchdb" does not exist'
    )


async def pg_shape(url: str) -> dict[str, Any]:
    """Every table's columns (name, type, nullability, default), indexes and primary key."""

    def read(sync: Any) -> dict[str, Any]:
        inspector = inspect(sync)
        found: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            }
        return found

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return dict(await conn.run_sync(read))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION + 1))
async def test_an_upgraded_database_has_the_shape_of_a_new_one(
    postgres_cluster: PostgresCluster, postgres_url: str, old_version: int
) -> None:
    """The frozen steps and ``schema.py`` agree on PostgreSQL too: a database made by any
    older version and upgraded, a new one, and ``schema.py``'s tables are the same."""
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate, "old", datetime.now(UTC), to_version=old_version)
    finally:
        await engine.dispose()
    await (await Store.open(postgres_url)).close()
    others = [postgres_cluster.create_database() for _ in range(2)]
    try:
        new, declared = (postgres_cluster.url(name) for name in others)
        await (await Store.open(new)).close()
        engine = create_async_engine(declared)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        finally:
            await engine.dispose()
        upgraded = await pg_shape(postgres_url)
        assert upgraded == await pg_shape(new)
        assert upgraded == await pg_shape(declared)
    finally:
        for name in others:
            postgres_cluster.drop_database(name)


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_another_programs_database_is_refused_and_left_alone(
    postgres_url: str, create: bool
) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE invoices (id integer)"))
    finally:
        await engine.dispose()
    with pytest.raises(NotMailwatchDatabaseError) as caught:
        await Store.open(postgres_url, create=create)
    assert str(caught.value).startswith(
        f"{HOST}:{PostgresCluster.port}/{dbname(postgres_url)} is not a mailwatch database: it "
        "has tables (invoices) but no schema_version table"
    )
    assert await tables_of(postgres_url) == {"invoices"}


@pytest.mark.parametrize("create", [True, False], ids=["daemon", "command"])
async def test_a_newer_schema_is_refused_and_left_alone(postgres_url: str, create: bool) -> None:
    await (await Store.open(postgres_url)).close()
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE schema_version SET version = 99"))
    finally:
        await engine.dispose()
    with pytest.raises(NewerSchemaError, match="its schema version is 99"):
        await Store.open(postgres_url, create=create)
    assert await tables_of(postgres_url) >= {"tickets", "schema_version"}


async def test_a_multi_host_url_reaches_the_writable_server_and_names_every_host(
    postgres_url: str,
) -> None:
    """libpq's multi-host form, as docs/cluster.md gives it for a primary and its standby:
    a host that refuses is skipped, ``target_session_attrs=read-write`` keeps the primary."""
    port = unused_port()
    credentials, database = postgres_url.rsplit("@", 1)[0], dbname(postgres_url)
    url = (
        f"{credentials}@/{database}?host={HOST}:{port}&host={HOST}:{PostgresCluster.port}"
        "&target_session_attrs=read-write"
    )
    store = await Store.open(url)
    try:
        assert store.location == f"{HOST}:{port},{HOST}:{PostgresCluster.port}/{database}"
        async with store.read() as conn:
            served = (await conn.execute(text("SELECT inet_server_port()"))).scalar_one()
        assert served == PostgresCluster.port
    finally:
        await store.close()
    assert PASSWORD not in store.location


async def test_a_connection_the_driver_left_stuck_is_thrown_away_and_told_as_an_outage(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server shutting down under a session can leave asyncpg holding a connection that is
    not closed but whose protocol is stuck mid-operation; every statement on it then raises
    "cannot switch to state 15; another operation (2) is in progress". That state cannot be
    produced on demand, so this test makes one pooled connection raise what asyncpg raises in
    it (a stand-in for the driver, the server is real). The transaction on it is the database
    being away, told once; the connection is not handed out again, so the next one works."""
    import asyncpg  # the server's driver, an extra
    from asyncpg.exceptions._base import InternalClientError

    store = await Store.open(postgres_url, create=True)
    store.outage.active = True
    try:
        await store.engine.dispose()  # the pool holds one connection from here: the stuck one
        async with store.read() as conn:
            raw = await conn.get_raw_connection()
            stuck = raw.driver_connection
            stuck_pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        real_execute = asyncpg.Connection.execute

        async def execute(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            if self is stuck:
                raise InternalClientError(
                    "cannot switch to state 15; another operation (2) is in progress"
                )
            return await real_execute(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "execute", execute)
        with caplog.at_level("WARNING", logger="mailwatch.store"):
            with pytest.raises(StoreUnavailableError, match="another operation"):
                async with store.write() as conn:
                    await conn.execute(text("SELECT 1"))
            for _ in range(3):
                async with store.write() as conn:
                    pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                assert pid != stuck_pid
        told = [r.getMessage() for r in caplog.records]
        assert len(told) == 2, told  # away once, back once
        assert "another operation" in told[0] and "is back" in told[1]
        assert PASSWORD not in " ".join(told)
    finally:
        await store.close()


async def test_a_database_that_stops_answering_is_cut_off_and_told_as_an_outage(
    postgres_cluster: PostgresCluster, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The path to the server stops passing packets mid-transaction (a frozen VM, a network
    partition without a reset): the transaction is cut off after the store's answer bound,
    not waited on forever, and told as the database being away, once; once the path is back,
    the next transaction works on a fresh connection."""
    passing = asyncio.Event()
    passing.set()
    behaviour = forwards_while(passing, HOST, PostgresCluster.port)
    async with Responder(behaviour) as path:
        url = postgres_cluster.url(dbname(postgres_url), port=path.port)
        store = await Store.open(url, create=True)
        store.answer_timeout_s = 1.0
        try:
            async with store.write() as conn:
                await conn.execute(text("SELECT 1"))
            with caplog.at_level("WARNING", logger="mailwatch.store"):
                with pytest.raises(StoreUnavailableError) as caught:
                    async with asyncio.timeout(WAIT_S), store.write() as conn:
                        await conn.execute(text("SELECT 1"))
                        passing.clear()
                        await conn.execute(text("SELECT pg_backend_pid()"))
                location = f"{HOST}:{path.port}/{dbname(postgres_url)}"
                assert str(caught.value) == (
                    f"no answer from the database at {location} within 1 s"
                )
                passing.set()
                async with asyncio.timeout(WAIT_S), store.write() as conn:
                    assert (await conn.execute(text("SELECT 2"))).scalar_one() == 2
            told = [r.getMessage() for r in caplog.records]
            assert len(told) == 2, told
            assert told[0].startswith(f"no answer from the database at {location} within 1 s")
            assert "is back" in told[1]
            assert PASSWORD not in " ".join(told)
            # A daemon stopping (or a command ending) while the path is down again does not
            # hang on closing its connections.
            passing.clear()
            async with asyncio.timeout(WAIT_S):
                await store.close()
        finally:
            passing.set()
            await store.close()
