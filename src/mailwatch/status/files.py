"""The status files in ``[daemon] state_dir``, each rewritten atomically (temporary file, fsync,
rename, directory fsync), so a reader sees the old file or the new one, never half of one.
A file that cannot be written is a ``StatusWriteError`` naming it: the daemon logs it and goes
on monitoring.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, tzinfo
from pathlib import Path

from mailwatch.domain.errors import MailwatchError
from mailwatch.status.document import to_document
from mailwatch.status.model import StatusSnapshot
from mailwatch.status.text import render_text

STATUS_JSON = "status.json"
STATUS_TXT = "status.txt"


class StatusWriteError(MailwatchError):
    """One or both status files could not be written; the message names each and why."""


def write_status(
    directory: Path, snapshot: StatusSnapshot, zone: tzinfo | None, now: datetime
) -> None:
    """``status.json``, then ``status.txt``; one that cannot be written does not keep the
    other from being written, and then ``StatusWriteError`` says what failed."""
    problems: list[str] = []
    for name, text in (
        (STATUS_JSON, json.dumps(to_document(snapshot), indent=2) + "\n"),
        (STATUS_TXT, render_text(snapshot, zone, now)),
    ):
        try:
            write_atomically(directory, name, text)
        except OSError as exc:
            problems.append(_describe(directory / name, exc))
    if problems:
        raise StatusWriteError("; ".join(problems))


def _describe(path: Path, exc: OSError) -> str:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return f"cannot write {path}: it is a directory, not a file (move it away)"
    return f"cannot write {path}: {exc.strerror or exc}"


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
