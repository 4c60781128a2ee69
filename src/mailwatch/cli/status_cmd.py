"""``mailwatch status``: what the daemon last wrote, and whether it is still alive."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from mailwatch.domain.results import State


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
    from mailwatch.domain.time import ago, display_zone
    from mailwatch.status.document import from_document
    from mailwatch.status.files import STATUS_JSON
    from mailwatch.status.text import render_text

    config = load_or_exit(args.config)
    directory = config.daemon.state_dir
    try:
        document = json.loads((directory / STATUS_JSON).read_text(encoding="utf-8"))
        snapshot = from_document(document)
    except FileNotFoundError:
        print(
            f"mailwatch: no status file in {directory}: the daemon has not run here "
            "(or [daemon] state_dir points elsewhere)",
            file=sys.stderr,
        )
        return int(State.UNKNOWN)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(
            f"mailwatch: unreadable status file {directory / STATUS_JSON}: {exc}", file=sys.stderr
        )
        return int(State.UNKNOWN)
    now = datetime.now(UTC)
    heartbeat = snapshot.heartbeat_at
    age_s = (now - heartbeat).total_seconds()
    stale = age_s > config.daemon.stale_after_s
    if args.json:
        print(
            json.dumps({**document, "stale": stale, "heartbeat_age_s": round(age_s, 1)}, indent=2)
        )
    else:
        if stale:
            print(
                f"STALE: the daemon's last heartbeat was {ago(heartbeat, now)} "
                f"(pid {snapshot.daemon.pid}); it is down or hung. "
                "What follows is old news.\n"
            )
        print(render_text(snapshot, display_zone(config.incidents.timezone), now), end="")
    # A stale file cannot vouch for anything: unknown, like a check that cannot tell.
    return int(State.UNKNOWN) if stale else int(snapshot.overall)
