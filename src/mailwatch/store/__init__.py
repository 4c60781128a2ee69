"""The database: results, engine state, tickets and timelines, silences and the outbox.

``Store.open(url)`` creates or migrates it; every write is one ``store.write()`` transaction.
"""

from mailwatch.store.migrations import (
    LATEST_VERSION,
    NewerSchemaError,
    NotMailwatchDatabaseError,
    StoreError,
)
from mailwatch.store.store import Store, StoreBusyError

__all__ = [
    "LATEST_VERSION",
    "NewerSchemaError",
    "NotMailwatchDatabaseError",
    "Store",
    "StoreBusyError",
    "StoreError",
]
