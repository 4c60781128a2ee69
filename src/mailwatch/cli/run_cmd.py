"""``mailwatch run``: the long-running service (what systemd starts)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "run", parents=[config_parent], help="run the monitoring daemon in the foreground"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_STORE
    from mailwatch.config import config_path
    from mailwatch.daemon.open_files import raise_open_files_limit
    from mailwatch.daemon.service import Daemon
    from mailwatch.domain.errors import StoreError
    from mailwatch.logsetup import setup_logging

    config = load_or_exit(args.config, route_urls=True, secrets=True)
    setup_logging(args.verbose, config.daemon.log_format)
    raise_open_files_limit()
    daemon = Daemon(config_path(args.config), config)
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.daemon.event_loop)) as runner:
            return runner.run(daemon.run())
    except StoreError as exc:
        # 74 (EX_IOERR) like every command: the database cannot be used (unreachable, refusing,
        # damaged); systemd restarts the unit, so a server that comes back is used again.
        print(f"mailwatch: {exc}", file=sys.stderr)
        return EXIT_STORE
    except KeyboardInterrupt:
        return 130


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``[daemon] event_loop``: uvloop's loop, or None for asyncio's own."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None
