"""Opening the ticket database for one CLI command, and the exit codes of ticket commands.

Exit codes: 0 done; 1 the ticket's state refuses the request (acknowledging a resolved
ticket); 2 bad input (unknown ticket number, check or malformed duration); 66 no database yet
(the daemon has not run); 74 the database cannot be used (a 0-byte or damaged file, not
mailwatch's, a directory, an older or newer schema, locked too long); 78 invalid config.

No command here creates or migrates the database: only the daemon does (``Store.open`` with
``create=True``); without a database there is no ticket to list or act on.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import DatabaseMissingError, SecretUnavailableError, StoreError
from mailwatch.store import Store

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_DATABASE = 66
"""sysexits.h EX_NOINPUT: there is no database file yet."""
EXIT_STORE = 74
"""sysexits.h EX_IOERR: the database could not be used."""
EX_CONFIG = 78
"""sysexits.h EX_CONFIG: ``[store] url`` names a secret that cannot be read here."""

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


def store_url_or_exit(config: MailwatchConfig) -> str:
    """``[store] url`` (or the default file), reading its ``env:``/``file:``/``credential:``
    reference now; one line naming the key, never the value, and exit 78 when it cannot be
    read here."""
    try:
        return config.store.resolved_url(config.daemon.state_dir)
    except SecretUnavailableError as exc:
        raise SystemExit(fail(f"invalid config: store.url: {exc}", EX_CONFIG)) from None


def with_store(
    config: MailwatchConfig,
    work: Callable[[Store], Awaitable[T]],
) -> T:
    """Open the configured store as it is (creating and migrating nothing), run ``work`` on
    it, close it; a ``StoreError`` becomes one line and exit code 66 or 74 (through
    ``SystemExit``)."""

    url = store_url_or_exit(config)

    async def run() -> T:
        store = await Store.open(url, create=False)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except DatabaseMissingError as exc:
        raise SystemExit(fail(str(exc), EXIT_NO_DATABASE)) from None
    except StoreError as exc:
        raise SystemExit(fail(str(exc), EXIT_STORE)) from None
