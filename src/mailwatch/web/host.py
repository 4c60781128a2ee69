"""What the web application needs from the daemon that serves it, as a protocol: the web layer
sits below the daemon and may not import it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mailwatch.config import MailwatchConfig
from mailwatch.status.changes import StatusVersion
from mailwatch.status.model import StatusSnapshot
from mailwatch.store.store import Store


class WebHost(Protocol):
    """The running daemon, as the web application sees it."""

    @property
    def config(self) -> MailwatchConfig:
        """The config in force now (a SIGHUP reload replaces it)."""
        ...

    @property
    def store(self) -> Store: ...

    @property
    def last_heartbeat(self) -> datetime | None:
        """When the daemon's heartbeat last did its work (None before the first)."""
        ...

    async def snapshot(self) -> StatusSnapshot:
        """The status model now: live checks, stored tickets and silences. Each snapshot
        taken is shown to ``status_version``."""
        ...

    @property
    def status_version(self) -> StatusVersion:
        """Moves when a snapshot differs in what people act on (the pages' live updates)."""
        ...

    def changed(self) -> None:
        """A person acted (ack, resolve, silence): rewrite the status and wake the sender."""
        ...
