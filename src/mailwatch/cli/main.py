"""Argument parsing and dispatch for ``mailwatch``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mailwatch import __version__
from mailwatch.cli import (
    ack_cmd,
    check_cmd,
    demo_cmd,
    maintenance_cmd,
    notify_test_cmd,
    run_cmd,
    show_cmd,
    silence_cmd,
    sla_cmd,
    status_cmd,
    tickets_cmd,
    validate_cmd,
)

# Each command imports what it needs inside its handler, so that a `mailwatch check` started
# per Nagios probe pays only for the config models and the probes it runs (not SQLAlchemy,
# apprise or the daemon); tests/cli/test_startup_imports.py keeps it so.


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailwatch",
        description="Proves that mail flows; opens tickets and alerts when it does not.",
    )
    parser.add_argument("--version", action="version", version=f"mailwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    config_parent = argparse.ArgumentParser(add_help=False)
    config_parent.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: $MAILWATCH_CONFIG or /etc/mailwatch/mailwatch.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_cmd.add_parser(commands, config_parent)
    validate_cmd.add_parser(commands, config_parent)
    sla_cmd.add_parser(commands, config_parent)
    tickets_cmd.add_parser(commands, config_parent)
    show_cmd.add_parser(commands, config_parent)
    ack_cmd.add_parser(commands, config_parent)
    silence_cmd.add_parser(commands, config_parent)
    run_cmd.add_parser(commands, config_parent)
    status_cmd.add_parser(commands, config_parent)
    notify_test_cmd.add_parser(commands, config_parent)
    demo_cmd.add_parser(commands, config_parent)
    maintenance_cmd.add_parser(commands, config_parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
