"""``[store] url`` is a secret: ``env:``, ``file:`` and ``credential:`` references work like
every secret's, and the password of a PostgreSQL URL appears in no output -- not of a real
``mailwatch run`` on the session's PostgreSQL, its status files, ``tickets``/``status`` (plain
and ``--json``), nor of a refused or failing connection, nor of a config error."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.postgres import PASSWORD, PostgresCluster
from helpers.daemon import DaemonProcess, wait_for
from helpers.resources import LEVELS_OFF_TOML


def daemon_config(tmp_path: Path, url: str) -> str:
    return f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 1
start_spread_s = 0

[store]
url = "{url}"

[[checks.resources]]
name = "host"
interval_s = 1
cpu_sample_s = 0.1
{LEVELS_OFF_TOML}
"""


def outputs(*procs: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(proc.stdout + proc.stderr for proc in procs)


def files_under(path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(path.rglob("*")) if p.is_file())


@pytest.mark.parametrize("scheme", ["env", "file", "credential"])
def test_the_daemon_and_the_commands_use_a_referenced_url_and_never_show_its_password(
    tmp_path: Path, postgres_url: str, scheme: str
) -> None:
    env: dict[str, str] = {}
    if scheme == "env":
        reference = "env:MW_STORE_URL"
        env["MW_STORE_URL"] = postgres_url
    elif scheme == "file":
        secret_file = tmp_path / "store-url"
        secret_file.write_text(postgres_url + "\n")
        reference = f"file:{secret_file}"
    else:
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "store-url").write_text(postgres_url + "\n")
        reference = "credential:store-url"
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    daemon = DaemonProcess(tmp_path, daemon_config(tmp_path, reference), env).start()
    try:
        wait_for("a result of check host", lambda: daemon.check_status("host"), 60)
        commands = [
            daemon.mailwatch("tickets"),
            daemon.mailwatch("tickets", "--all", "--json"),
            daemon.mailwatch("status"),
            daemon.mailwatch("status", "--json"),
            daemon.mailwatch("validate"),
        ]
        daemon.send(signal.SIGUSR1)  # the state dump goes to the log too
        wait_for("the state dump", lambda: "host" in daemon.stderr and "next" in daemon.stderr)
    finally:
        daemon.send(signal.SIGTERM)
        assert daemon.proc is not None
        daemon.proc.wait(30)
        daemon.stop()
    assert [proc.returncode for proc in commands[:2]] == [0, 0], outputs(*commands)
    assert commands[1].stdout.strip() == "[]"
    assert daemon.proc.returncode == 0, daemon.stderr
    everything = outputs(*commands) + daemon.stderr + files_under(tmp_path / "state")
    assert PASSWORD not in everything


def test_a_reference_that_cannot_be_read_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(daemon_config(tmp_path, "env:MW_NO_SUCH_VARIABLE"))
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "tickets", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (78, "")
    assert proc.stderr == (
        "mailwatch: invalid config: store.url: environment variable MW_NO_SUCH_VARIABLE is "
        "not set\n"
    )


def test_an_unsupported_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(daemon_config(tmp_path, f"mysql://mailwatch:{PASSWORD}@db.example/mw"))
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 78
    assert "store.url" in proc.stderr and "postgresql+asyncpg://" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_failing_connection_shows_no_password_anywhere(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    wrong = "wrong-" + PASSWORD
    dbname = postgres_url.rsplit("/", 1)[1]
    env = {"MW_STORE_URL": postgres_cluster.url(dbname, password=wrong)}
    daemon = DaemonProcess(tmp_path, daemon_config(tmp_path, "env:MW_STORE_URL"), env).start()
    try:
        assert daemon.proc is not None
        assert daemon.proc.wait(60) == 74
        command = daemon.mailwatch("tickets", "--json")
    finally:
        daemon.stop()
    assert command.returncode == 74
    everything = daemon.stderr + outputs(command)
    assert "password authentication failed" in daemon.stderr
    assert wrong not in everything and PASSWORD not in everything
