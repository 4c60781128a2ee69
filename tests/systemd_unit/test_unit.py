"""The shipped systemd unit: what operators install must be hardened and say what it needs."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "mailwatch.service"
EXAMPLE = ROOT / "config" / "mailwatch.example.toml"
INSTALL = ROOT / "docs" / "install.md"
ENV_FILE = "/etc/mailwatch/env"


def service_section() -> dict[str, list[str]]:
    """The [Service] keys; repeated keys (LoadCredential=) keep every value."""
    values: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_unit_runs_as_notify_service_with_watchdog_reload_and_credentials() -> None:
    service = service_section()
    assert service["Type"] == ["notify"]
    assert service["WatchdogSec"]
    assert service["Restart"] == ["on-failure"]
    # Validate first: a broken config fails the reload and the daemon is never signalled.
    assert service["ExecReload"] == [
        "/opt/mailwatch/bin/mailwatch validate -c /etc/mailwatch/mailwatch.toml",
        "/bin/kill -HUP $MAINPID",
    ]
    assert service["StateDirectory"] == ["mailwatch"]
    assert service["ConfigurationDirectory"] == ["mailwatch"]
    assert service["User"] == ["mailwatch"]
    assert service["RestartPreventExitStatus"] == ["78"]
    assert any(value.startswith("imap-password:") for value in service["LoadCredential"])
    assert "run" in service["ExecStart"][0].split()


def test_unit_parses_as_ini() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_exposure_score_is_at_most_2() -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for mailwatch.service: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """systemd's own parser: no unknown key, no bad value. The program is where this test's
    interpreter is, since verify also checks that ExecStart='s binary exists."""
    program = Path(sys.executable).parent / "mailwatch"
    assert program.exists(), program
    unit = tmp_path / "mailwatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/mailwatch/bin/mailwatch", str(program)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr


def secret_references(value: Any) -> Iterator[str]:
    """Every ``credential:NAME`` / ``env:NAME`` / ``file:PATH`` string in the parsed config."""
    if isinstance(value, dict):
        for item in value.values():
            yield from secret_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from secret_references(item)
    elif isinstance(value, str) and value.partition(":")[0] in {"credential", "env", "file"}:
        yield value


def example_secrets(scheme: str) -> set[str]:
    example = tomllib.loads(EXAMPLE.read_text())
    prefix = f"{scheme}:"
    return {s.removeprefix(prefix) for s in secret_references(example) if s.startswith(prefix)}


def loaded_credentials() -> set[str]:
    return {value.partition(":")[0] for value in service_section()["LoadCredential"]}


def documented_env_vars() -> set[str]:
    """The NAME=... lines of install.md's /etc/mailwatch/env block."""
    text = INSTALL.read_text()
    start = text.index(f"# {ENV_FILE}\n")
    block = text[start : text.index("```", start)]
    return {line.partition("=")[0] for line in block.splitlines() if re.match(r"^[A-Z_]+=", line)}


def test_every_credential_of_the_example_is_loaded_by_the_unit_and_no_other() -> None:
    """A credential the config names and the unit does not load stops the daemon (exit 78);
    one the unit loads and nothing uses must still exist as a file, or the unit won't start."""
    assert example_secrets("credential")
    assert example_secrets("credential") == loaded_credentials()


def test_every_env_secret_of_the_example_is_documented_for_the_units_environment_file() -> None:
    assert service_section()["EnvironmentFile"] == [f"-{ENV_FILE}"]
    assert example_secrets("env")
    assert example_secrets("env") == documented_env_vars()
    assert not example_secrets("file")


# Values apprise accepts, for the secrets that are route URLs; passwords can be anything.
TEST_SECRETS = {
    "alerts-smtp-url": "mailtos://alerts%40example.org:pw@smtp.example.org:587"
    "?to=mail-team@example.org&from=alerts@example.org",
    "oncall-sms-url": "json://sms-gateway.example.org/send/ABCDEFGH123456",
    "MAILWATCH_NTFY_URL": "ntfys://tk_0123456789abcdef@ntfy.example.org/mw",
    "MAILWATCH_PUSHOVER_URL": "pover://u" + "1" * 29 + "@a" + "2" * 29,
    "MAILWATCH_HELPDESK_WEBHOOK": "jsons://helpdesk.example.org/api/v1/tickets/abcdef0123",
}


def test_example_validates_with_what_the_unit_provides(tmp_path: Path) -> None:
    """install.md's way: a file per LoadCredential= and the documented environment file. With
    just that, the example loads, every secret resolved (issue 13: it exited 78)."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in loaded_credentials():
        (credentials / name).write_text(TEST_SECRETS.get(name, "a-password") + "\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CREDENTIALS_DIRECTORY": str(credentials),
        **{name: TEST_SECRETS.get(name, "a-password") for name in documented_env_vars()},
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
    }
    # --secrets reads every secret, as `mailwatch run` under the unit does.
    command = [sys.executable, "-m", "mailwatch", "validate", "--secrets", "-c", str(EXAMPLE)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "config OK" in proc.stdout
    assert "not readable" not in proc.stdout + proc.stderr
    # And the same without them fails, naming the secret: the test above is not vacuous.
    del env["CREDENTIALS_DIRECTORY"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 78, proc.stdout + proc.stderr
    assert "CREDENTIALS_DIRECTORY" in proc.stderr
