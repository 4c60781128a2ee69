"""Logging for the daemon and the CLI: readable lines on stderr, or one JSON object a line.

No timestamps in text mode: journald adds them, and a second one only makes lines longer.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # Our own lines (state changes, tickets, alerts) at INFO; libraries stay at WARNING.
    logging.getLogger("mailwatch").setLevel(logging.DEBUG if verbose else logging.INFO)
    # APScheduler logs every job run at INFO: one line per healthy probe is noise.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
