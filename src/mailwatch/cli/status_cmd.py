"""``mailwatch status``: what the daemon last wrote, and whether it is still alive."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailwatch.domain.results import State

CLOCK_SKEW_TOLERANCE_S = 60.0
"""A heartbeat further in the future than this is clock skew, not a fresh file."""
MAX_STATUS_BYTES = 64 * 2**20
"""The daemon writes kilobytes; a file past this is not its status file (or /dev/zero)."""


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "status",
        parents=[config_parent],
        help="show the daemon's status file (exit 0 ok, 1 warning, 2 critical, 3 unknown/stale)",
    )
    parser.add_argument("--json", action="store_true", help="print status.json with a verdict")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.domain.time import ago, display_zone, span
    from mailwatch.status.document import StatusDocumentError, from_document
    from mailwatch.status.files import STATUS_JSON
    from mailwatch.status.text import render_text

    config = load_or_exit(args.config)
    path = config.daemon.state_dir / STATUS_JSON
    try:
        document = read_document(path)
        snapshot = from_document(document)
    except FileNotFoundError:
        print(
            f"mailwatch: no status file in {config.daemon.state_dir}: the daemon has not run here "
            "(or [daemon] state_dir points elsewhere)",
            file=sys.stderr,
        )
        return int(State.UNKNOWN)
    except (UnreadableStatusFile, StatusDocumentError) as exc:
        print(f"mailwatch: unreadable status file {path}: {exc}", file=sys.stderr)
        return int(State.UNKNOWN)
    now = datetime.now(UTC)
    heartbeat = snapshot.heartbeat_at
    age_s = (now - heartbeat).total_seconds()
    # A heartbeat from the future is no proof of life: one of the two clocks is wrong.
    skewed = age_s < -CLOCK_SKEW_TOLERANCE_S
    stale = skewed or age_s > config.daemon.stale_after_s
    if args.json:
        assert isinstance(document, dict)  # from_document took it
        verdict = {"stale": stale, "heartbeat_age_s": round(age_s, 1), "clock_skew": skewed}
        print(json.dumps({**document, **verdict}, indent=2))
    else:
        if skewed:
            print(
                f"CLOCK SKEW: the daemon's last heartbeat is {span(age_s)} in the future "
                f"(pid {snapshot.daemon.pid}); this host's clock or the daemon's is wrong, "
                "so the file cannot show the daemon is alive. What follows may be old news.\n"
            )
        elif stale:
            print(
                f"STALE: the daemon's last heartbeat was {ago(heartbeat, now)} "
                f"(pid {snapshot.daemon.pid}); it is down or hung. "
                "What follows is old news.\n"
            )
        print(render_text(snapshot, display_zone(config.incidents.timezone), now), end="")
    # A stale file cannot vouch for anything: unknown, like a check that cannot tell.
    return int(State.UNKNOWN) if stale else int(snapshot.overall)


class UnreadableStatusFile(Exception):
    """The status file's bytes are not a JSON document; the message says why, on one line."""


def read_document(path: Path) -> object:
    """The JSON in the status file. ``FileNotFoundError`` when there is none,
    ``UnreadableStatusFile`` for anything else that stops it being read."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_STATUS_BYTES + 1)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise UnreadableStatusFile("it is a directory") from None
    except OSError as exc:
        raise UnreadableStatusFile(exc.strerror or type(exc).__name__) from None
    if len(data) > MAX_STATUS_BYTES:
        raise UnreadableStatusFile(f"it is larger than {MAX_STATUS_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableStatusFile(
            f"it is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableStatusFile("its JSON is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError, or a number of more than 4,300 digits: both say so on one line.
        raise UnreadableStatusFile(f"it is not JSON: {exc}") from None
