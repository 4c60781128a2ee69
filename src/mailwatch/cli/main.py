"""Argument parsing and dispatch for ``mailwatch``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from mailwatch import __version__
from mailwatch.cli import (
    ack_cmd,
    check_cmd,
    completion_cmd,
    demo_cmd,
    example_cmd,
    maintenance_cmd,
    nodes_cmd,
    notify_test_cmd,
    report_cmd,
    run_cmd,
    schema_cmd,
    show_cmd,
    silence_cmd,
    sla_cmd,
    status_cmd,
    tickets_cmd,
    validate_cmd,
    web_cmd,
)
from mailwatch.cli.nagios import usage as nagios_usage

# Each command imports what it needs inside its handler, so that a `mailwatch check` started
# per Nagios probe pays only for the config models and the probes it runs (not SQLAlchemy,
# apprise or the daemon); tests/cli/test_startup_imports.py keeps it so.


def global_options(*, inherited: bool) -> argparse.ArgumentParser:
    """``-c/--config`` and ``-v/--verbose``, accepted before or after the subcommand.

    The main parser holds the defaults; each subcommand's copy (``inherited``) sets an option
    only when it is given there, so ``mailwatch -c FILE tickets`` is not undone by the
    subcommand's own default.
    """
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: $MAILWATCH_CONFIG or /etc/mailwatch/mailwatch.toml)",
        default=argparse.SUPPRESS if inherited else None,
    )
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log debug details",
        default=argparse.SUPPRESS if inherited else False,
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailwatch",
        description="Proves that mail flows; opens tickets and alerts when it does not.",
        parents=[global_options(inherited=False)],
    )
    parser.add_argument("--version", action="version", version=f"mailwatch {__version__}")
    config_parent = global_options(inherited=True)
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
    nodes_cmd.add_parser(commands, config_parent)
    notify_test_cmd.add_parser(commands, config_parent)
    demo_cmd.add_parser(commands, config_parent)
    maintenance_cmd.add_parser(commands, config_parent)
    example_cmd.add_parser(commands, config_parent)
    completion_cmd.add_parser(commands, config_parent)
    schema_cmd.add_parser(commands, config_parent)
    web_cmd.add_parser(commands, config_parent)
    report_cmd.add_parser(commands, config_parent)
    parser.set_defaults(root_parser=parser)  # `completion` describes the whole parser
    return parser


EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if nagios_usage.requested(argv):  # a usage error must still be a plugin's UNKNOWN
        args = nagios_usage.parse_args(parser, argv)
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `mailwatch tickets | head`: the reader left. End quietly, as cat and ls do, rather
        # than with a traceback now and another at exit, and with 128 + SIGPIPE as they do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return result


if __name__ == "__main__":
    sys.exit(main())
