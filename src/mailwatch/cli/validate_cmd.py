"""``mailwatch validate``: check a config file without running anything."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "validate", parents=[config_parent], help="check the config file and exit"
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
    from mailwatch.config.loader import secret_problems

    config = load_or_exit(args.config, route_urls=True, secrets=args.secrets)
    # Without --secrets the references stay unread by the loader; read them here only to warn.
    unread = secret_problems(config)
    for problem in unread:
        print(f"mailwatch: warning: secret not readable here: {problem}", file=sys.stderr)
    checks = list(config.checks)
    enabled = sum(1 for check in checks if check.enabled)
    line = f"config OK: {len(checks)} check(s), {enabled} enabled"
    if unread:
        line += (
            f"; {len(unread)} secret(s) not readable here (run 'mailwatch validate --secrets' "
            "where mailwatch runs)"
        )
    print(line)
    return 0
