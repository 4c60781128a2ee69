"""What the commands do when the database is not there, or is not a database: one line and a
non-zero exit (66 no database yet, 74 one that cannot be used), no traceback, and the path left
exactly as it was. Only ``mailwatch run`` creates a database (tests/daemon/test_state_files.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli.test_tickets_cmd import mailwatch

READING = [["tickets"], ["tickets", "--all", "--json"], ["show", "MW-000001"], ["status"]]
WRITING = [
    ["ack", "MW-000001"],
    ["mitigate", "MW-000001", "--note", "backup MX"],
    ["resolve", "MW-000001", "--note", "fixed"],
    ["silence", "all", "--for", "2h", "--reason", "relay upgrade"],
    ["unsilence", "all"],
]
TICKET_COMMANDS = [args for args in READING + WRITING if args[0] != "status"]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    return path


def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "mailwatch.db"


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args", READING + WRITING, ids=" ".join)
def test_no_command_creates_a_missing_database(
    config_file: Path, tmp_path: Path, args: list[str]
) -> None:
    proc = mailwatch(config_file, *args)
    assert proc.returncode != 0
    assert not (tmp_path / "state").exists()
    if args in TICKET_COMMANDS:
        assert proc.returncode == 66
        assert one_line_error(proc) == (
            f"mailwatch: no database at {database(tmp_path)}: the daemon (mailwatch run) "
            "creates it when it first runs (or check [store] url and [daemon] state_dir)"
        )


@pytest.mark.parametrize("args", TICKET_COMMANDS, ids=" ".join)
def test_a_zero_byte_database_is_refused_and_left_empty(
    config_file: Path, tmp_path: Path, args: list[str]
) -> None:
    path = database(tmp_path)
    path.parent.mkdir()
    path.touch()
    proc = mailwatch(config_file, *args)
    assert proc.returncode == 74
    assert one_line_error(proc).startswith(f"mailwatch: {path} is empty (0 bytes)")
    assert path.stat().st_size == 0
    assert sorted(p.name for p in path.parent.iterdir()) == ["mailwatch.db"]


@pytest.mark.parametrize("args", TICKET_COMMANDS, ids=" ".join)
def test_a_directory_at_the_database_path_is_one_line(
    config_file: Path, tmp_path: Path, args: list[str]
) -> None:
    path = database(tmp_path)
    path.mkdir(parents=True)
    proc = mailwatch(config_file, *args)
    assert proc.returncode == 74
    assert one_line_error(proc) == (
        f"mailwatch: {path} is a directory, not a database file: move it away, or point "
        "[store] url at a file"
    )
    assert list(path.iterdir()) == []
