"""``mailwatch check``: run checks once and print them; the exit status is the worst state.
With ``--nagios`` it is a Nagios/Icinga/Checkmk plugin (``mailwatch.cli.nagios``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from collections.abc import Sequence
from typing import Any

from mailwatch.domain.results import CheckResult, State, worst


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "check",
        parents=[config_parent],
        help="run checks once and print the results (exit 0 ok, 1 warning, 2 critical, 3 unknown)",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON")
    output.add_argument(
        "--nagios",
        action="store_true",
        help="act as a Nagios/Icinga/Checkmk plugin: a status line with perfdata, then one line "
        "per check; every error is UNKNOWN (exit 3)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="end the whole run after this long, UNKNOWN (exit 3) "
        "(default with --nagios: 50, inside a plugin's usual 60 s; otherwise none)",
    )
    parser.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.nagios:
        from mailwatch.cli.nagios import plugin

        return plugin.run(args)
    from mailwatch.cli.loading import checks_with_keys, load_or_exit, require_secrets
    from mailwatch.runner import run_checks

    limit = None
    if args.timeout is not None:
        from mailwatch.cli.time_limit import TimeLimit

        limit = TimeLimit(args.timeout, f"mailwatch: timed out after {args.timeout:g} s (-t)", 2)
        limit.start()
    config = load_or_exit(args.config)
    checks = config.enabled_checks()
    if args.names:
        by_name = {check.name: check for check in config.checks}
        unknown = [name for name in args.names if name not in by_name]
        if unknown:
            print(f"mailwatch: no such check: {', '.join(unknown)}", file=sys.stderr)
            return int(State.UNKNOWN)
        checks = [by_name[name] for name in args.names]
    if not checks:
        print("mailwatch: no checks configured", file=sys.stderr)
        return int(State.UNKNOWN)
    require_secrets(args.config, checks_with_keys(config, checks))
    if limit is not None:
        checks = limit.fit(checks)
    results = asyncio.run(run_checks(checks))
    if limit is not None and not limit.claim():
        threading.Event().wait()  # the limit is printing and ending the process
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
    else:
        print(table(results))
    return int(worst(result.state for result in results))


def table(results: Sequence[CheckResult]) -> str:
    """A plain table, worst first, for a person at a terminal."""
    ordered = sorted(results, key=lambda r: (-r.state.badness, r.check))
    rows = [("STATE", "CHECK", "KIND", "STAGE", "SUMMARY")]
    rows += [(r.state.label.upper(), r.check, r.kind, r.stage or "-", r.summary) for r in ordered]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    )
