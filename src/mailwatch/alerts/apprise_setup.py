"""Importing apprise once, and calling it where its own log lines must not reach anyone.

apprise logs the URLs it parses (at debug level, and on errors); while mailwatch only asks it
to parse a URL in order to mask or validate it, those records are dropped.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

APPRISE_LOGGER = "apprise"

_load_lock = threading.Lock()
_loaded = False


def load_apprise() -> ModuleType:
    """The ``apprise`` module with its plugins loaded."""
    global _loaded
    import apprise

    if _loaded:
        return apprise
    with _load_lock:
        if not _loaded:
            with warnings.catch_warnings():
                # apprise 2.x imports the standard library's imghdr (deprecated since 3.11)
                # while it loads its plugins, once per process. Nothing else is silenced.
                warnings.filterwarnings(
                    "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
                )
                with quiet_apprise():
                    # Checking any scheme makes apprise load every plugin module now.
                    apprise.Apprise.instantiate("json://localhost")
            _loaded = True
    return apprise


class _DropThisThread(logging.Filter):
    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextlib.contextmanager
def quiet_apprise() -> Iterator[None]:
    """Drop what apprise logs from this thread inside the block (other threads log as usual)."""
    logger = logging.getLogger(APPRISE_LOGGER)
    drop = _DropThisThread(threading.get_ident())
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
