"""``mailwatch sla``: when would a ticket's response and resolution be due under a plan?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "sla",
        parents=[config_parent],
        help="compute response and resolution deadlines for a ticket under a plan",
    )
    parser.add_argument("--plan", required=True, help="plan name from [plans.NAME]")
    parser.add_argument("--severity", required=True, type=int, help="1 (most urgent) to 4")
    parser.add_argument(
        "--opened",
        required=True,
        metavar="ISO8601",
        help="when the ticket opened; without an offset, local time of the plan's calendar",
    )
    parser.add_argument("--acknowledged", metavar="ISO8601", help="when it was acknowledged")
    parser.add_argument("--json", action="store_true", help="print JSON (the default prints lines)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.sla.deadlines import sla_report

    config = load_or_exit(args.config)
    try:
        report = sla_report(
            config.calendars,
            config.plans,
            args.plan,
            args.severity,
            args.opened,
            args.acknowledged,
        )
    except ValueError as exc:
        print(f"mailwatch: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value if value is not None else 'no target'}")
    return 0
