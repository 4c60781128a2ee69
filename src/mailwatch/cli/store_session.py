"""Opening the ticket database for one CLI command, and the exit codes of ticket commands.

Exit codes: 0 done; 1 the ticket's state refuses the request (acknowledging a resolved
ticket); 2 bad input (unknown ticket number, check or malformed duration); 74 the database
cannot be used (missing, newer schema, damaged, locked too long); 78 invalid config.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import StoreError
from mailwatch.store import Store

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_STORE = 74
"""sysexits.h EX_IOERR: the database could not be used."""

T = TypeVar("T")


def default_actor() -> str:
    """Who is typing: the user behind ``sudo`` first, then the login name."""
    for variable in ("SUDO_USER", "USER"):
        value = os.environ.get(variable)
        if value:
            return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def fail(message: str, code: int) -> int:
    print(f"mailwatch: {message}", file=sys.stderr)
    return code


def with_store(
    config: MailwatchConfig,
    work: Callable[[Store], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    """Open the configured store, run ``work`` on it, close it; a ``StoreError`` becomes a
    message and exit code 74 (through ``SystemExit``)."""

    async def run() -> T:
        url = config.store.resolved_url(config.daemon.state_dir)
        store = await Store.open(url, create=create)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreError as exc:
        raise SystemExit(fail(str(exc), EXIT_STORE)) from None
