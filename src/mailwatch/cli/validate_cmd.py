"""``mailwatch validate``: check a config file without running anything."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "validate", parents=[config_parent], help="check the config file and exit"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit

    config = load_or_exit(args.config, route_urls=True)
    checks = list(config.checks)
    enabled = sum(1 for check in checks if check.enabled)
    print(f"config OK: {len(checks)} check(s), {enabled} enabled")
    return 0
