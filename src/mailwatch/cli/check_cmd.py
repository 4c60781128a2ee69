"""``mailwatch check``: run checks once and print them; the exit status is the worst state,
so the command doubles as a Nagios/Icinga/Checkmk plugin."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import Counter
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
    output.add_argument("--nagios", action="store_true", help="print one plugin line with perfdata")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import checks_with_keys, load_or_exit, require_secrets
    from mailwatch.runner import run_checks

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
    results = asyncio.run(run_checks(checks))
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
    elif args.nagios:
        print(nagios_line(results))
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


def nagios_line(results: Sequence[CheckResult]) -> str:
    """``MAILWATCH CRITICAL - 1 critical, 2 ok: name: summary | perfdata``."""
    overall = worst(result.state for result in results)
    counts = Counter(result.state for result in results)
    tally = ", ".join(
        f"{counts[state]} {state.label}" for state in sorted(counts, key=lambda s: -s.badness)
    )
    bad = [r for r in results if r.state is not State.OK]
    shown = bad or list(results)
    text = "; ".join(f"{r.check}: {r.summary}" for r in shown).replace("|", "/")
    perf = " ".join(
        _perfdatum(f"{r.check}.{name}", value) for r in results for name, value in r.metrics.items()
    )
    line = f"MAILWATCH {overall.label.upper()} - {tally}: {text}"
    return f"{line} | {perf}" if perf else line


_UNITS = (("_s", "s"), ("_bytes", "B"), ("_percent", "%"))


def _perfdatum(label: str, value: float) -> str:
    unit = next((uom for suffix, uom in _UNITS if label.endswith(suffix)), "")
    safe = re.sub(r"['=]", "_", label)
    return f"'{safe}'={value:g}{unit}"
