"""Log formats: the journal's priority prefix on every line, timestamps elsewhere, JSON fields."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from mailwatch.logsetup import NOTICE, formatter_for, stream_is_journal, syslog_priority


def record(level: int, message: str, **extra: str) -> logging.LogRecord:
    entry = logging.LogRecord("mailwatch.daemon", level, __file__, 1, message, (), None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(
    ("level", "priority"),
    [(logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (NOTICE, 5),
     (logging.INFO, 6), (logging.DEBUG, 7), (logging.INFO + 1, 6), (logging.NOTSET, 7)],
)  # fmt: skip
def test_syslog_priorities(level: int, priority: int) -> None:
    assert syslog_priority(level) == priority


def test_every_line_of_a_traceback_carries_the_priority() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        entry = record(logging.ERROR, "heartbeat failed")
        entry.exc_info = sys.exc_info()
    lines = formatter_for("text", journal=True).format(entry).splitlines()
    assert lines[0] == "<3>ERROR mailwatch.daemon: heartbeat failed"
    assert len(lines) > 3
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_json_under_the_journal_is_prefixed_and_carries_fields() -> None:
    line = formatter_for("json", journal=True).format(
        record(NOTICE, "MW-000007 ticket_opened canary", check="canary", ticket="MW-000007")
    )
    assert line.startswith("<5>{")
    entry = json.loads(line.removeprefix("<5>"))
    assert (entry["level"], entry["check"], entry["ticket"]) == ("notice", "canary", "MW-000007")
    assert "route" not in entry


def test_journal_stream_must_name_stderrs_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, other = tmp_path / "ours", tmp_path / "other"
    ours.touch()
    other.touch()
    with ours.open("w") as stream:
        for path, expected in ((ours, True), (other, False)):
            status = path.stat()
            monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
            assert stream_is_journal(stream) is expected
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert not stream_is_journal(stream)
        monkeypatch.delenv("JOURNAL_STREAM")
        assert not stream_is_journal(stream)
