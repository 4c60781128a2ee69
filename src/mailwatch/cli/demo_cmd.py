"""``mailwatch demo``: watch the daemon open and resolve a ticket, with no mail server needed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

EX_UNAVAILABLE = 69


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    del config_parent  # the demo writes its own config
    parser = commands.add_parser(
        "demo",
        help="start a mail system on loopback, run the daemon against it, break and repair it",
        description=(
            "Starts an SMTP server (aiosmtpd) and an IMAP server (pymap) on 127.0.0.1, runs "
            "`mailwatch run` against them, breaks delivery on purpose and repairs it, printing "
            "the status file and the ticket's timeline as it goes. About a minute."
        ),
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the mail servers and the daemon running afterwards, until Ctrl-C",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from mailwatch.demo.scenario import run_demo
    except ImportError as exc:
        print(
            f"mailwatch demo needs the demo extra ({exc.name} is missing): "
            "pip install 'mailwatch-monitor[demo]'",
            file=sys.stderr,
        )
        return EX_UNAVAILABLE
    return asyncio.run(run_demo(keep=args.keep))
