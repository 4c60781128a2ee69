"""The commands against a PostgreSQL store, as an operator runs them: an empty database is
never given a schema by a command (exit 66, like a missing SQLite file), and a server that
cannot be reached or refuses mailwatch is one line and exit 74 naming host:port/dbname and
why -- never the password, never a traceback. ``mailwatch run`` too."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from cli.test_database_files import TICKET_COMMANDS, one_line_error
from cli.test_tickets_cmd import mailwatch
from harness.postgres import HOST, PASSWORD, PORT, PostgresCluster


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n\n[store]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def tables(url: str) -> list[str]:
    async def read() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return list(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def refused_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def run_daemon(config_file: Path) -> subprocess.CompletedProcess[str]:
    """``mailwatch run``, which must give up at once on a database it cannot use."""
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "run", "-c", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NOTIFY_SOCKET": ""},
        timeout=60,
    )


def assert_no_password(proc: subprocess.CompletedProcess[str], *passwords: str) -> None:
    for secret in (PASSWORD, *passwords):
        assert secret not in proc.stdout + proc.stderr


@pytest.mark.parametrize("args", TICKET_COMMANDS, ids=" ".join)
def test_no_command_gives_an_empty_database_a_schema(
    tmp_path: Path, postgres_url: str, args: list[str]
) -> None:
    proc = mailwatch(write_config(tmp_path, postgres_url), *args)
    assert proc.returncode == 66
    assert one_line_error(proc) == (
        f"mailwatch: no mailwatch schema in {HOST}:{PORT}/{dbname(postgres_url)} yet: the "
        "daemon (mailwatch run) creates it when it first runs (or check [store] url)"
    )
    assert_no_password(proc)
    assert tables(postgres_url) == []


@pytest.mark.parametrize("command", [["tickets"], ["show", "MW-000001"], ["run"]], ids=" ".join)
def test_a_refused_connection_is_exit_74_naming_the_server(
    tmp_path: Path, postgres_cluster: PostgresCluster, command: list[str]
) -> None:
    port = refused_port()
    config_file = write_config(tmp_path, postgres_cluster.url("mailwatch", port=port))
    proc = run_daemon(config_file) if command == ["run"] else mailwatch(config_file, *command)
    assert proc.returncode == 74
    assert one_line_error(proc) == (
        f"mailwatch: cannot connect to the database at {HOST}:{port}/mailwatch: connection refused"
    )
    assert_no_password(proc)


@pytest.mark.parametrize("command", [["tickets"], ["ack", "MW-000001"], ["run"]], ids=" ".join)
def test_a_wrong_password_is_exit_74_without_it(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_url: str, command: list[str]
) -> None:
    wrong = "wrong-" + PASSWORD
    config_file = write_config(tmp_path, postgres_cluster.url(dbname(postgres_url), password=wrong))
    proc = run_daemon(config_file) if command == ["run"] else mailwatch(config_file, *command)
    assert proc.returncode == 74
    assert one_line_error(proc) == (
        f"mailwatch: the database at {HOST}:{PORT}/{dbname(postgres_url)} refused mailwatch: "
        f'password authentication failed for user "{PostgresCluster.role}"'
    )
    assert_no_password(proc, wrong)
    assert tables(postgres_url) == []


@pytest.mark.parametrize("command", [["tickets", "--all", "--json"], ["run"]], ids=" ".join)
def test_a_missing_database_is_exit_74(
    tmp_path: Path, postgres_cluster: PostgresCluster, command: list[str]
) -> None:
    config_file = write_config(tmp_path, postgres_cluster.url("no_such_db"))
    proc = run_daemon(config_file) if command == ["run"] else mailwatch(config_file, *command)
    assert proc.returncode == 74
    assert one_line_error(proc) == (
        f"mailwatch: the database at {HOST}:{PORT}/no_such_db refused mailwatch: "
        'database "no_such_db" does not exist'
    )
    assert_no_password(proc)
