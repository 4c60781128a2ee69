"""pytest plugin: ``postgres_cluster``, a throwaway PostgreSQL cluster for the whole session,
and ``postgres_url``, the ``postgresql+asyncpg://`` URL of a fresh, empty database per test.

Enable with ``"harness.postgres_fixtures"`` in ``pytest_plugins`` in ``tests/conftest.py``.
The URLs carry the role's password (``harness.postgres.PASSWORD``), so tests that check the
store URL never leaks can grep every output for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fixtures import serve_for_session
from .postgres import PostgresCluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Debian's PostgreSQL server in a temporary cluster on 127.0.0.1:15432, for the session.

    Skipped when it cannot start, failed instead under CI (see ``serve_for_session``).
    """
    yield from serve_for_session(PostgresCluster(), "PostgreSQL")


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a new, empty database of ``postgres_cluster``, dropped after the test."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)
