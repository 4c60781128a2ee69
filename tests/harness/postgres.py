"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests that need a real PostgreSQL.

One cluster per test session, in one base directory (default ``/tmp/mailwatch-postgres``)::

    data/          the cluster (initdb'd afresh at every start; fsync off, it is thrown away)
    sock/          its unix socket, used by the harness itself to create and drop databases
    server.log     the server's log
    .lock          flock held while a PostgresCluster owns the directory

The server listens on ``HOST``:``PORT`` (15432, next to no harness port; the system cluster's
5432 is left alone) with password authentication (scram-sha-256) for TCP clients, and trusts
the unix socket in ``sock/``, which only the harness uses. Run as root, the server runs as the
unprivileged ``postgres`` user (PostgreSQL refuses to run as root).

Every test gets a database of its own (``create_database``), owned by the role ``ROLE`` whose
password is ``PASSWORD``: the URLs the tests give mailwatch carry a real password, so a test can
grep every output for it. Starting is idempotent: ``start()`` takes the directory lock (another
test run waits), stops what a crashed earlier run left behind, and returns once the server
accepts connections; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from .processes import deadline_loop, lock_base_dir, tail

HOST = "127.0.0.1"
PORT = 15432
DEFAULT_BASE_DIR = Path("/tmp/mailwatch-postgres")
ROLE = "mailwatch"
PASSWORD = "pg-harness-secret-7f3a"  # distinctive, so a grep for it finds nothing else
ADMIN = "postgres"
SERVER_USER = "postgres"  # the unprivileged account the server runs as when we are root


class PostgresError(RuntimeError):
    """The PostgreSQL cluster could not be set up, started or controlled."""


def find_bindir() -> Path:
    """The ``bin`` directory of the newest PostgreSQL installed the Debian way."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresError(
            "no PostgreSQL server under /usr/lib/postgresql (install Debian's postgresql; "
            "scripts/bootstrap does)"
        )
    return candidates[-1].parent


class PostgresCluster:
    """The throwaway cluster; see the module docstring. Use as a context manager."""

    host = HOST
    port = PORT
    role = ROLE
    password = PASSWORD

    def __init__(
        self,
        base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR,
        start_timeout_s: float = 30.0,
        lock_timeout_s: float = 120.0,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "server.log"
        self.start_timeout_s = start_timeout_s
        self.lock_timeout_s = lock_timeout_s
        self._lock_fd: int | None = None
        self._bindir: Path | None = None
        self._started = False
        self._names = itertools.count(1)

    # --- what tests use

    def url(self, dbname: str, *, password: str | None = None, port: int | None = None) -> str:
        """The ``postgresql+asyncpg://`` URL of ``dbname`` as ``ROLE`` (with its password)."""
        secret = PASSWORD if password is None else password
        return f"postgresql+asyncpg://{ROLE}:{secret}@{HOST}:{port or PORT}/{dbname}"

    def create_database(self) -> str:
        """A new, empty database owned by ``ROLE``; its name."""
        name = f"mw_{os.getpid()}_{next(self._names)}"
        self.admin_sql(f'CREATE DATABASE "{name}" OWNER "{ROLE}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected."""
        self.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def admin_sql(self, sql: str, dbname: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the harness's unix socket; psql's output."""
        proc = subprocess.run(
            [
                str(self._bin("psql")),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(PORT),
                "-U",
                ADMIN,
                "-d",
                dbname,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresError(f"psql {sql!r} failed: {proc.stderr.strip()}")
        return proc.stdout

    # --- lifecycle

    def start(self) -> PostgresCluster:
        self._bindir = find_bindir()
        self._lock_fd = lock_base_dir(self.base_dir, self.lock_timeout_s)
        if self._lock_fd is None:
            raise PostgresError(f"{self.base_dir} is locked by another test run")
        try:
            self._stop_leftovers()
            self._initdb()
            self._start_server()
            self.admin_sql(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{PASSWORD}'")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            if self._started:
                self._started = False
                with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
                    self._run_pg_ctl("stop", "-m", "fast", "-w", "-t", "20")
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _start_server(self) -> None:
        self._run_pg_ctl(
            "start",
            "-w",
            "-t",
            str(int(self.start_timeout_s)),
            "-l",
            str(self.log_path),
            "-o",
            f"-c listen_addresses={HOST} -c port={PORT} "
            f"-c unix_socket_directories={self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200",
        )
        self._started = True
        for _ in deadline_loop(self.start_timeout_s):
            with contextlib.suppress(PostgresError):
                self.admin_sql("SELECT 1")
                break
        else:
            raise PostgresError(f"server not answering\n{tail(self.log_path, 20)}")

    def pause(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``, as ``systemctl stop postgresql`` does),
        keeping its data: a database outage under running clients, until ``resume``."""
        self._run_pg_ctl("stop", "-m", "fast", "-w", "-t", "20")

    def resume(self) -> None:
        """Start the server ``pause`` stopped, with its data as it was."""
        self._start_server()

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- helpers

    def _bin(self, name: str) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir / name

    def _server_user(self) -> str | None:
        """Who runs the server: ``SERVER_USER`` when we are root, else ourselves (None)."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise PostgresError(f"running as root and there is no {SERVER_USER} user") from exc
        return SERVER_USER

    def _as_server(self, argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        user = self._server_user()
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            user=user,
            cwd=self.base_dir,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"},
        )

    def _run_pg_ctl(self, *args: str) -> None:
        proc = self._as_server(
            [str(self._bin("pg_ctl")), "-D", str(self.data_dir), *args],
            self.start_timeout_s + 10,
        )
        if proc.returncode != 0:
            raise PostgresError(
                f"pg_ctl {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}\n"
                f"{tail(self.log_path, 20)}"
            )

    def _stop_leftovers(self) -> None:
        """Stop a server a crashed earlier run left running, and clear its files."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
                self._run_pg_ctl("stop", "-m", "immediate", "-w", "-t", "10")
        for path in (self.data_dir, self.socket_dir):
            shutil.rmtree(path, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    def _initdb(self) -> None:
        user = self._server_user()
        self.base_dir.chmod(0o755)
        self.socket_dir.mkdir(mode=0o755)
        self.log_path.touch()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.socket_dir, self.log_path):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # initdb makes data/ itself, so base_dir must be writable by the server user.
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        proc = self._as_server(
            [
                str(self._bin("initdb")),
                "-D",
                str(self.data_dir),
                "-U",
                ADMIN,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            60.0,
        )
        if proc.returncode != 0:
            raise PostgresError(f"initdb failed: {proc.stderr.strip() or proc.stdout.strip()}")
