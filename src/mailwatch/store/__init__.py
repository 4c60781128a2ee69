"""The database: results, engine state, tickets and timelines, silences and the outbox.

``Store.open(url)`` creates or migrates it; every write is one ``store.write()`` transaction.
Its errors are ``mailwatch.domain.errors.StoreError`` and subclasses.
"""

from mailwatch.store.migrations import LATEST_VERSION
from mailwatch.store.store import Store

__all__ = ["LATEST_VERSION", "Store"]
