"""What ``mailwatch check``, ``validate`` and ``--version`` import at start-up.

Nagios runs ``mailwatch check`` once per probe, so its imports are paid on every probe: the
store (SQLAlchemy), apprise, the daemon's libraries and the probes of kinds not being run
must stay out. Each case starts a fresh interpreter, since this process has imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailwatch import __version__

NOT_AT_START_UP = frozenset(
    {
        # the ticket store
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        # alerts: only `validate` (and `run`) load it, to ask whether it can use the URLs of
        # [routes], and only when the config has some (see the routes case below)
        "apprise",
        # the daemon
        "apscheduler",
        "prometheus_client",
        # business calendars with public holidays, which this config has none of
        "holidays",
        # the probes of other check kinds (mx, dnsbl, tls, roundtrip)
        "dns",
        "cryptography",
        "aiosmtplib",
        "aioimaplib",
    }
)

RESOURCES_ONLY = """\
[[checks.resources]]
name = "local-resources"
cpu_sample_s = 0.1
timeout_s = 5
"""

# Runs the command as the console script would, then reports the top-level packages it imported.
PROBE = """\
import contextlib, io, json, sys
from mailwatch.cli.main import main

out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
modules = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "out": out.getvalue(), "modules": modules}))
"""


def start_up(*argv: str) -> tuple[int, str, set[str]]:
    """``mailwatch ARGV`` in a fresh interpreter: exit code, output, top-level modules imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    return int(report["code"]), str(report["out"]), set(report["modules"])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(RESOURCES_ONLY)
    return path


@pytest.mark.parametrize(
    ("command", "expected_output"),
    [
        (["check"], "local-resources"),
        (["check", "--nagios", "local-resources"], "MAILWATCH "),
        (["validate"], "config OK: 1 check(s), 1 enabled"),
    ],
)
def test_a_probe_imports_only_what_it_runs(
    config: Path, command: list[str], expected_output: str
) -> None:
    code, out, imported = start_up(*command, "-c", str(config))
    # The command really ran: a config error would exit before importing much at all.
    assert code in (0, 1, 2), out
    assert expected_output in out
    assert "pydantic" in imported
    assert sorted(imported & NOT_AT_START_UP) == []


def test_version_imports_no_config_models() -> None:
    code, out, imported = start_up("--version")
    assert (code, out) == (0, f"mailwatch {__version__}\n")
    assert sorted(imported & (NOT_AT_START_UP | {"pydantic"})) == []


def test_only_validate_loads_apprise_for_a_config_with_routes(config: Path) -> None:
    """Loading a config with [routes] does not load apprise; ``validate`` does, to check the
    route URLs the user asked it to validate."""
    config.write_text(RESOURCES_ONLY + '\n[routes.team]\nurls = ["json://localhost"]\n')
    code, out, imported = start_up("check", "-c", str(config))
    assert code in (0, 1, 2), out
    assert "local-resources" in out
    assert sorted(imported & NOT_AT_START_UP) == []
    code, out, imported = start_up("validate", "-c", str(config))
    assert (code, out) == (0, "config OK: 1 check(s), 1 enabled\n")
    # apprise's plugins bring cryptography; nothing else of the list comes in.
    assert sorted(imported & NOT_AT_START_UP) == ["apprise", "cryptography"]
