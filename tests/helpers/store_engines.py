"""pytest plugin: ``store_url``, the URL of a new, empty store on each engine mailwatch supports.

A test (or fixture) that takes ``store_url`` runs twice: on a SQLite file under ``tmp_path``
(``[engine=sqlite]``) and on a fresh database of the session's throwaway PostgreSQL cluster
(``[engine=postgresql]``, see ``harness.postgres``). Under ``CI=true`` the PostgreSQL run
fails when the cluster cannot start; elsewhere it is skipped.

Enable with ``"helpers.store_engines"`` in ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINES = ("sqlite", "postgresql")


def sqlite_url(tmp_path: Path) -> str:
    """Where the daemon keeps its database by default, under a test's ``tmp_path``."""
    return f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}"


@pytest.fixture(params=ENGINES, ids=[f"engine={name}" for name in ENGINES])
def store_engine(request: pytest.FixtureRequest) -> str:
    """The engine of ``store_url``: ``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def store_url(store_engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL: a SQLite file not yet created, or an empty PostgreSQL database."""
    if store_engine == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return sqlite_url(tmp_path)


postgresql_only = pytest.mark.parametrize("store_engine", ["postgresql"], ids=["engine=postgresql"])
"""For tests of several daemons on one database: PostgreSQL is the engine a cluster runs on
(SQLite serves nodes on one host only, and keeps one such test of its own), and each of these
tests starts real processes, so running them twice would cost the suite most of a minute."""


sqlite_only = pytest.mark.parametrize("store_engine", ["sqlite"], ids=["engine=sqlite"])
"""For tests of a command's input handling (a bad argument, an unknown number) that never
reach an engine-specific statement: once is enough."""
