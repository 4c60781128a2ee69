"""``mailwatch validate``: check a config file without running anything."""

from __future__ import annotations

import argparse
import json
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.config import config_path

    config = load_or_exit(args.config, route_urls=True, as_json=args.json)
    checks = list(config.checks)
    enabled = sum(1 for check in checks if check.enabled)
    if args.json:
        path = str(config_path(args.config))
        report = {"ok": True, "config": path, "checks": len(checks), "enabled": enabled}
        print(json.dumps(report, indent=2))
        return 0
    print(f"config OK: {len(checks)} check(s), {enabled} enabled")
    return 0
