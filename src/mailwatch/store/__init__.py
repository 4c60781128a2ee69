"""The database: results, engine state, tickets and timelines, silences and the outbox.

``Store.open(url)`` (the daemon) creates or migrates it, ``Store.open(url, create=False)``
(every other command) only opens one at the latest version; every write is one
``store.write()`` transaction.
Its errors are ``mailwatch.domain.errors.StoreError`` and subclasses.
"""

from mailwatch.store.migrations import LATEST_VERSION
from mailwatch.store.store import Store

__all__ = ["LATEST_VERSION", "Store"]
