"""Secrets are read only by the commands that use them.

The config holds a ``credential:`` route URL and an ``env:`` IMAP password that cannot be read
where the commands run (no ``CREDENTIALS_DIRECTORY``, no variable), as for an administrator at
a shell rather than inside the unit. The ticket commands, ``status``, ``sla`` and ``validate``
work; ``run``, ``check`` and ``notify-test`` refuse with exit 78 naming the key; a secret that
can be read (a ``file:`` SMTP password) never appears in any output.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.builders import result
from helpers.cli import in_process
from mailwatch.config.loader import load_config
from mailwatch.config.secrets import SecretMode
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.status.files import write_status
from mailwatch.store.store import Store
from status.sample import snapshot

SMTP_PASSWORD = "smtp-s3cret-4f1e"  # readable: in a file
IMAP_VARIABLE = "MAILWATCH_TEST_IMAP_PASSWORD_UNSET"
EX_CONFIG = 78
IMAP_KEY = "checks.roundtrip[0].imap.password"
ROUTE_KEY = "routes.team.urls[0]"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / "smtp-password").write_text(SMTP_PASSWORD + "\n", encoding="utf-8")
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[incidents]
open_after = 1
resolve_after = 1

[[checks.roundtrip]]
name = "canary"
mail_from = "mailwatch@example.test"
rcpt_to = "canary@example.test"
plan = "standard"

[checks.roundtrip.smtp]
host = "127.0.0.1"
username = "mailwatch@example.test"
password = "file:{tmp_path / "smtp-password"}"

[checks.roundtrip.imap]
host = "127.0.0.1"
username = "canary@example.test"
password = "env:{IMAP_VARIABLE}"

[[checks.service]]
name = "closed-port"
protocol = "banner"
host = "127.0.0.1"
port = 1                                  # tcpmux: nothing listens here
banner = "^220"
timeout_s = 5

[routes.team]
urls = ["credential:alerts-url"]

[calendars.office]
timezone = "Europe/Athens"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-17:00"

[plans.standard]
calendar = "office"
sev1 = {{ response = "30m", resolution = "4h" }}
""",
        encoding="utf-8",
    )
    return path


def with_a_ticket(config_file: Path) -> None:
    """Open ticket MW-000001 of ``canary`` through the processor, as the daemon would (the
    daemon would have the secrets; the processor needs none)."""
    config = load_config(config_file, SecretMode.LAZY)
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    async def run() -> None:
        store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
        try:
            await process_result(store, config, result(State.CRITICAL, opened, "canary"), opened)
        finally:
            await store.close()

    asyncio.run(run())


def mailwatch(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A shell without the unit's environment: no credentials, no IMAP password variable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CREDENTIALS_DIRECTORY", IMAP_VARIABLE, "MAILWATCH_CONFIG", "SUDO_USER"}
    }
    env["USER"] = "admin"
    done = in_process([*args, "-c", str(config_file)], env)
    assert SMTP_PASSWORD not in done.stdout + done.stderr
    return done


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("tickets",), "MW-000001"),
        (("show", "MW-000001"), "MW-000001"),
        (("ack", "MW-000001", "--note", "looking"), "MW-000001"),
        (("silence", "canary", "--for", "1h", "--reason", "relay move"), "canary"),
        (("sla", "--plan", "standard", "--severity", "1", "--opened", "2026-12-07T10:00:00Z"), ""),
    ],
)
def test_ticket_commands_and_sla_need_no_secret(
    config_file: Path, args: tuple[str, ...], shows: str
) -> None:
    with_a_ticket(config_file)
    done = mailwatch(config_file, *args)
    assert done.returncode == 0, done.stderr
    assert shows in done.stdout + done.stderr


def test_mitigate_and_resolve_need_no_secret(config_file: Path) -> None:
    with_a_ticket(config_file)
    for verb in ("mitigate", "resolve"):
        done = mailwatch(config_file, verb, "MW-000001", "--note", "relay restarted")
        assert done.returncode == 0, (verb, done.stderr)
    assert "resolved" in mailwatch(config_file, "show", "MW-000001").stdout


def test_status_needs_no_secret(config_file: Path) -> None:
    written = datetime.now(UTC).replace(microsecond=0)
    shown = dataclasses.replace(snapshot(), generated_at=written)
    write_status(config_file.parent / "state", shown, None, written)
    done = mailwatch(config_file, "status")
    assert done.returncode == 2, done.stderr  # the sample's overall state: critical
    assert "overall CRITICAL" in done.stdout


def test_validate_warns_about_each_unreadable_secret_and_passes(config_file: Path) -> None:
    done = mailwatch(config_file, "validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("config OK: 2 check(s), 2 enabled; 2 secret(s) not readable")
    assert done.stderr.splitlines() == [
        f"mailwatch: warning: secret not readable here: {IMAP_KEY}: environment variable "
        f"{IMAP_VARIABLE} is not set",
        f"mailwatch: warning: secret not readable here: {ROUTE_KEY}: credential alerts-url "
        "requested but CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the systemd unit)",
    ]


def test_validate_with_secrets_refuses_naming_each_key(config_file: Path) -> None:
    done = mailwatch(config_file, "validate", "--secrets")
    assert done.returncode == EX_CONFIG
    assert done.stdout == ""
    problems = done.stderr.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in problems] == [IMAP_KEY, ROUTE_KEY]


def test_validate_with_secrets_passes_where_they_can_be_read(
    config_file: Path, tmp_path: Path
) -> None:
    """Inside the unit: the variable set and the credential loaded. Values stay unprinted."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "alerts-url").write_text("json://127.0.0.1:1/alerts-t0ken\n")
    env = {**os.environ, "CREDENTIALS_DIRECTORY": str(credentials), IMAP_VARIABLE: "imap-pw"}
    done = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "--secrets", "-c", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "config OK: 2 check(s), 2 enabled\n"


def test_run_refuses_naming_each_key(config_file: Path) -> None:
    done = mailwatch(config_file, "run")
    assert done.returncode == EX_CONFIG
    problems = done.stderr.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in problems] == [IMAP_KEY, ROUTE_KEY]
    assert not (config_file.parent / "state" / "mailwatch.db").exists()


def test_check_refuses_a_check_whose_secret_is_unreadable(config_file: Path) -> None:
    done = mailwatch(config_file, "check", "canary")
    assert done.returncode == EX_CONFIG
    assert done.stderr.splitlines()[1:] == [
        f"  {IMAP_KEY}: environment variable {IMAP_VARIABLE} is not set"
    ]


def test_check_runs_a_check_that_needs_no_secret(config_file: Path) -> None:
    """The unreadable route URL and IMAP password belong to what this run does not use."""
    done = mailwatch(config_file, "check", "closed-port")
    assert done.returncode == int(State.CRITICAL), done.stderr
    assert "closed-port" in done.stdout
    assert "connect" in done.stdout


def test_nagios_plugin_runs_a_check_that_needs_no_secret(config_file: Path) -> None:
    """As a plugin too: the unreadable route URL does not turn every check UNKNOWN."""
    done = mailwatch(config_file, "check", "closed-port", "--nagios")
    assert done.returncode == int(State.CRITICAL), done.stdout
    assert done.stdout.startswith("MAILWATCH CRITICAL - "), done.stdout
    assert "closed-port" in done.stdout


def test_nagios_plugin_names_the_unreadable_secret_of_a_chosen_check(config_file: Path) -> None:
    done = mailwatch(config_file, "check", "canary", "--nagios")
    assert done.returncode == int(State.UNKNOWN)
    assert done.stdout.splitlines()[0] == (
        f"MAILWATCH UNKNOWN - invalid config {config_file}: "
        f"{IMAP_KEY}: environment variable {IMAP_VARIABLE} is not set"
    )
    assert SMTP_PASSWORD not in done.stdout + done.stderr


def test_notify_test_refuses_a_route_whose_url_is_unreadable(config_file: Path) -> None:
    done = mailwatch(config_file, "notify-test", "team")
    assert done.returncode == EX_CONFIG
    assert done.stderr.splitlines()[1:] == [
        f"  {ROUTE_KEY}: credential alerts-url requested but CREDENTIALS_DIRECTORY is not set "
        "(use LoadCredential= in the systemd unit)"
    ]
