"""``mailwatch run``: the long-running service (what systemd starts)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "run", parents=[config_parent], help="run the monitoring daemon in the foreground"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.main import load_or_exit
    from mailwatch.config import config_path
    from mailwatch.daemon.service import Daemon
    from mailwatch.logsetup import setup_logging
    from mailwatch.store.migrations import StoreError

    config = load_or_exit(args.config)
    setup_logging(args.verbose, config.daemon.log_format)
    daemon = Daemon(config_path(args.config), config)
    try:
        return asyncio.run(daemon.run())
    except StoreError as exc:
        print(f"mailwatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
