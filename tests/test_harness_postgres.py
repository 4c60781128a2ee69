"""The PostgreSQL harness works: a real server, password logins, a fresh database per test."""

from __future__ import annotations

import asyncpg
import pytest

from harness.postgres import PostgresCluster


def _dsn(url: str) -> str:
    """asyncpg's own DSN for a ``postgresql+asyncpg://`` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_fresh_database_accepts_the_role_with_its_password(postgres_url: str) -> None:
    conn = await asyncpg.connect(_dsn(postgres_url))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        await conn.execute("CREATE TABLE marker (id integer)")
        user = await conn.fetchval("SELECT current_user")
    finally:
        await conn.close()
    assert tables == 0
    assert user == PostgresCluster.role


async def test_each_test_gets_its_own_database(postgres_url: str) -> None:
    # The previous test created a table; this database must not have it.
    conn = await asyncpg.connect(_dsn(postgres_url))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    assert tables == 0


async def test_wrong_password_is_refused(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    dbname = postgres_url.rsplit("/", 1)[1]
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_dsn(postgres_cluster.url(dbname, password="wrong")))
