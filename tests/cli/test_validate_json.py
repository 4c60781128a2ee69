"""``mailwatch validate --json``: a verdict a script can read, on stdout, with the same exit
codes as without it (0 valid, 78 invalid)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def validate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_valid_config(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        '[[checks.resources]]\nname = "a"\n[[checks.resources]]\nname = "b"\nenabled = false\n',
        encoding="utf-8",
    )
    proc = validate(config, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "ok": True,
        "config": str(config),
        "checks": 2,
        "enabled": 1,
        "unreadable_secrets": [],
    }


def test_invalid_config_lists_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        '[[checks.resources]]\nname = "a"\ninterval_s = -1\nbogus = 1\n', encoding="utf-8"
    )
    proc = validate(config, "--json")
    assert proc.returncode == 78
    report = json.loads(proc.stdout)
    assert (report["ok"], report["config"]) == (False, str(config))
    problems = report["problems"]
    assert len(problems) == 2, problems
    assert any("checks.resources[0].interval_s" in p for p in problems), problems
    assert any("bogus" in p for p in problems), problems
    # Without --json the same problems go to stderr, one line each.
    plain = validate(config)
    assert plain.returncode == 78
    assert plain.stdout == ""
    assert [line.strip() for line in plain.stderr.splitlines()[1:]] == problems
