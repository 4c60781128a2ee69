"""``mailwatch validate``: check a config file without running anything."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "validate", parents=[config_parent], help="check the config file and exit"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"ok", "config", "checks", "enabled"} or {"ok": false, "problems"}',
    )
    parser.add_argument(
        "--secrets",
        action="store_true",
        help="also read every secret (env:, file:, credential:) and fail on any that cannot be "
        "read here; run it where mailwatch runs (default: warn about them)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.config import config_path
    from mailwatch.config.loader import secret_problems

    config = load_or_exit(args.config, route_urls=True, secrets=args.secrets, as_json=args.json)
    # Without --secrets the references stay unread by the loader; read them here only to warn.
    unread = secret_problems(config)
    checks = list(config.checks)
    enabled = sum(1 for check in checks if check.enabled)
    if args.json:
        path = str(config_path(args.config))
        report = {
            "ok": True,
            "config": path,
            "checks": len(checks),
            "enabled": enabled,
            "unreadable_secrets": unread,
        }
        print(json.dumps(report, indent=2))
        return 0
    for problem in unread:
        print(f"mailwatch: warning: secret not readable here: {problem}", file=sys.stderr)
    line = f"config OK: {len(checks)} check(s), {enabled} enabled"
    if unread:
        line += (
            f"; {len(unread)} secret(s) not readable here (run 'mailwatch validate --secrets' "
            "where mailwatch runs)"
        )
    print(line)
    return 0
