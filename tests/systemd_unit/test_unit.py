"""The shipped systemd unit: what operators install must be hardened and say what it needs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "mailwatch.service"


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
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
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
