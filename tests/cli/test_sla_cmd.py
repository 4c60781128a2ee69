"""``mailwatch sla`` prints deadlines in the calendar's zone, from the shipped example plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailwatch.cli.main import main

PLANS = Path(__file__).resolve().parents[2] / "config" / "sla-plans.toml"


def sla(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "sla", "-c", str(PLANS), *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Friday 16:00 ET: one business hour left that day, three more on Monday from 09:00.
        (
            ["--plan", "netgovern-premium", "--severity", "1", "--opened", "2026-11-20T16:00"],
            {"response_due": "2026-11-23T12:00:00-05:00", "resolution_due": None},
        ),
        # Given in UTC, printed in the calendar's zone: 21:00Z is 16:00 EST.
        (
            [
                "--plan",
                "netgovern-premium",
                "--severity",
                "1",
                "--opened",
                "2026-11-20T21:00:00+00:00",
            ],
            {"response_due": "2026-11-23T12:00:00-05:00", "resolution_due": None},
        ),
    ],
)
def test_sla_json(args: list[str], expected: dict[str, str | None]) -> None:
    proc = sla(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_unknown_plan_is_a_clear_error() -> None:
    proc = sla("--plan", "gold", "--severity", "1", "--opened", "2026-11-20T16:00")
    assert proc.returncode == 2
    assert "unknown plan 'gold'" in proc.stderr


def test_malformed_time_is_a_clear_error() -> None:
    proc = sla("--plan", "netgovern-premium", "--severity", "1", "--opened", "friday")
    assert proc.returncode == 2
    assert "friday" in proc.stderr


@pytest.mark.parametrize("opened", ["9999-12-31T23:00", "0001-01-01T00:00+01:00"])
def test_a_time_out_of_range_is_exit_2_naming_the_argument(
    opened: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sla", "-c", str(PLANS), "--plan", "netgovern-premium", "--severity", "1"]
    assert main([*args, "--opened", opened]) == 2
    assert main([*args, "--opened", "2026-11-20T16:00", "--acknowledged", opened]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"mailwatch: opened time {opened!r} is out of range: "
        "deadlines are computed for times from 1900 to 9899\n"
        f"mailwatch: acknowledged time {opened!r} is out of range: "
        "deadlines are computed for times from 1900 to 9899\n"
    )
