"""``-c/--config`` and ``-v/--verbose`` work before the subcommand as well as after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """\
[[checks.resources]]
name = "local-resources"
"""


def mailwatch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "MAILWATCH_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    "order",
    [
        ["-c", "{config}", "validate"],
        ["validate", "-c", "{config}"],
        ["--config={config}", "-v", "validate"],
        ["-v", "validate", "--config", "{config}"],
        ["validate", "-v", "-c", "{config}"],
    ],
)
def test_config_before_or_after_the_subcommand(tmp_path: Path, order: list[str]) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    proc = mailwatch(*(arg.format(config=config) for arg in order))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "config OK: 1 check(s), 1 enabled"


def test_config_before_the_subcommand_is_the_one_read(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    proc = mailwatch("-c", str(missing), "tickets")
    assert proc.returncode == 78
    assert str(missing) in proc.stderr


def test_verbose_after_the_subcommand_logs_debug_lines(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    quiet = mailwatch("check", "-c", str(config))
    verbose = mailwatch("check", "-c", str(config), "-v")
    assert "DEBUG" not in quiet.stderr
    assert "DEBUG" in verbose.stderr, verbose.stderr
