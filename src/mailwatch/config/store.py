"""The ``[store]`` section: which database keeps results, tickets and the outbox."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from mailwatch.config.base import StrictModel

SUPPORTED_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
"""Async drivers only: the daemon never blocks its event loop on the database."""

DATABASE_FILE = "mailwatch.db"


class StoreConfig(StrictModel):
    """``url`` is an SQLAlchemy URL; unset, it is ``mailwatch.db`` in ``[daemon] state_dir``."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(SUPPORTED_SCHEMES):
            raise ValueError(
                "url must start with sqlite+aiosqlite:// (e.g. "
                "sqlite+aiosqlite:////var/lib/mailwatch/mailwatch.db) "
                "or postgresql+asyncpg://"
            )
        return value

    def resolved_url(self, state_dir: Path) -> str:
        """The URL to open: ``url`` when set, else the database file under ``state_dir``."""
        if self.url is not None:
            return self.url
        # sqlite+aiosqlite:/// followed by an absolute path gives four slashes, as SQLAlchemy wants.
        return f"sqlite+aiosqlite:///{state_dir / DATABASE_FILE}"
