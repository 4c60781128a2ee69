"""The status files in ``[daemon] state_dir``, each rewritten atomically (temporary file, fsync,
rename, directory fsync), so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, tzinfo
from pathlib import Path

from mailwatch.status.document import to_document
from mailwatch.status.model import StatusSnapshot
from mailwatch.status.text import render_text

STATUS_JSON = "status.json"
STATUS_TXT = "status.txt"


def write_status(
    directory: Path, snapshot: StatusSnapshot, zone: tzinfo | None, now: datetime
) -> None:
    """``status.json``, then ``status.txt``."""
    write_atomically(directory, STATUS_JSON, json.dumps(to_document(snapshot), indent=2) + "\n")
    write_atomically(directory, STATUS_TXT, render_text(snapshot, zone, now))


def write_atomically(directory: Path, name: str, text: str) -> None:
    """Write ``directory/name`` so that readers see the old or the new file, never a mix."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
