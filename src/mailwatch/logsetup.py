"""Logging for the daemon and the CLI: readable lines on stderr, or one JSON object a line.

When stderr is the journal (systemd says so in ``JOURNAL_STREAM``), every line starts with its
syslog priority (``<3>`` error ... ``<7>`` debug, sd-daemon(3)) and carries no timestamp, since
journald adds its own; anywhere else, text lines start with the local time.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

NOTICE = 25
"""Between INFO and WARNING, as syslog's LOG_NOTICE: what a person acts on (a check changing
state, a ticket event), so ``journalctl -p notice`` shows just that."""
logging.addLevelName(NOTICE, "NOTICE")

FIELDS = ("check", "ticket", "route")
"""Attributes a log call may carry (``extra={"check": name}``): JSON lines show them as fields."""


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level: 2 critical, 3 error, 4 warning, 5 notice,
    6 info, 7 debug."""
    for floor, priority in (
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (NOTICE, 5),
        (logging.INFO, 6),
    ):
        if levelno >= floor:
            return priority
    return 7


def stream_is_journal(stream: TextIO) -> bool:
    """Whether ``stream`` is the journal's own socket: systemd sets ``JOURNAL_STREAM`` to the
    device and inode of the stream it connected (systemd.exec(5)); a variable inherited by a
    process whose stderr was redirected elsewhere names another file, and does not count."""
    device, sep, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not sep:
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (str(status.st_dev), str(status.st_ino)) == (device, inode)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class TimestampedFormatter(logging.Formatter):
    """``2026-12-07T09:39:43.123+01:00 INFO mailwatch.daemon: ...``: local time with its offset."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return (
            datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")
        )


class PriorityPrefix(logging.Formatter):
    """Puts ``<N>`` before every line of another formatter's text: journald takes each line as
    an entry of its own, so a traceback's lines need the prefix too."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in self.inner.format(record).split("\n"))


def formatter_for(log_format: str, journal: bool) -> logging.Formatter:
    if log_format == "json":
        inner: logging.Formatter = JsonFormatter()
    elif journal:
        inner = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    else:
        inner = TimestampedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return PriorityPrefix(inner) if journal else inner


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format, stream_is_journal(sys.stderr)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # Our own lines (state changes, tickets, alerts) at INFO; libraries stay at WARNING.
    logging.getLogger("mailwatch").setLevel(logging.DEBUG if verbose else logging.INFO)
    # APScheduler logs every job run at INFO: one line per healthy probe is noise.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
