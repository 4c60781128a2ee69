"""``mailwatch status`` as an operator runs it: a subprocess reading the status.json the test
writes, and exiting like ``mailwatch check`` (3 when the file is missing, unreadable or stale)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailwatch.status.document import to_document
from mailwatch.status.files import STATUS_JSON, write_status
from status.sample import snapshot


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\nstale_after_s = 120\n\n'
        '[incidents]\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    return path


def status(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "status", "-c", str(config_file), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def write(config_file: Path, age: timedelta) -> None:
    written = datetime.now(UTC).replace(microsecond=0) - age
    shown = dataclasses.replace(snapshot(), generated_at=written)
    write_status(config_file.parent / "state", shown, None, written)


def test_a_fresh_file_is_shown_and_exits_with_the_overall_state(config_file: Path) -> None:
    write(config_file, timedelta(seconds=5))
    proc = status(config_file)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith("mailwatch 0.1.0 (pid 1234): overall CRITICAL\n")
    assert "  MW-000123  SEV1  triggered     mx-main: no MX answered\n" in proc.stdout
    assert "CET" in proc.stdout  # [incidents] timezone, not the zone the file was written in
    assert "STALE" not in proc.stdout


def test_a_stale_file_says_so_first_and_exits_unknown(config_file: Path) -> None:
    write(config_file, timedelta(minutes=10))
    proc = status(config_file)
    assert proc.returncode == 3
    assert proc.stdout.startswith(
        "STALE: the daemon's last heartbeat was 10 min ago (pid 1234); it is down or hung. "
        "What follows is old news.\n\nmailwatch 0.1.0"
    )


def test_json_is_the_file_with_a_verdict(config_file: Path) -> None:
    write(config_file, timedelta(minutes=10))
    proc = status(config_file, "--json")
    assert proc.returncode == 3
    shown = json.loads(proc.stdout)
    assert shown.pop("stale") is True
    assert shown.pop("clock_skew") is False
    assert 600 <= shown.pop("heartbeat_age_s") < 660
    written = json.loads((config_file.parent / "state" / STATUS_JSON).read_text())
    assert shown == written
    assert shown["checks"] == to_document(snapshot())["checks"]


def test_no_file_and_an_unreadable_file_are_unknown(config_file: Path) -> None:
    proc = status(config_file)
    assert proc.returncode == 3
    assert "no status file in" in proc.stderr
    state_dir = config_file.parent / "state"
    state_dir.mkdir()
    (state_dir / STATUS_JSON).write_text('{"schema": "mailwatch.status/1"}')
    proc = status(config_file)
    assert proc.returncode == 3
    assert "unreadable status file" in proc.stderr
