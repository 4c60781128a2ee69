"""The ``[store]`` section: which database keeps results, tickets and the outbox.

``url`` is a secret like a password (a PostgreSQL URL carries one): a literal, ``env:NAME``,
``file:/path`` or ``credential:NAME``, never shown in errors, logs or output.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from mailwatch.config.base import Secret, StrictModel
from mailwatch.config.secrets import SecretReference
from mailwatch.domain.errors import SecretUnavailableError

SUPPORTED_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
"""Async drivers only: the daemon never blocks its event loop on the database."""

DATABASE_FILE = "mailwatch.db"

SCHEME_PROBLEM = (
    "url must start with sqlite+aiosqlite:// (e.g. "
    "sqlite+aiosqlite:////var/lib/mailwatch/mailwatch.db) or postgresql+asyncpg://"
)


class StoreConfig(StrictModel):
    """``url`` is an SQLAlchemy URL; unset, it is ``mailwatch.db`` in ``[daemon] state_dir``.
    ``history_days``: how long the hourly history buckets are kept (docs/history.md)."""

    url: Secret | None = None
    history_days: int = Field(default=400, ge=1, le=3650)
    """Days the history (the hourly buckets of every check's figures and availability, which
    the graphs and the report read) is kept; 5-minute buckets are kept 35 days at most."""

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: SecretStr | None) -> SecretStr | None:
        # A reference not read yet (the commands that do not need it) is checked when read.
        if value is None or isinstance(value, SecretReference):
            return value
        if not value.get_secret_value().startswith(SUPPORTED_SCHEMES):
            raise ValueError(SCHEME_PROBLEM)  # never the URL: it may hold a password
        return value

    def resolved_url(self, state_dir: Path) -> str:
        """The URL to open: ``url`` when set, else the database file under ``state_dir``.

        Reads a reference not read yet; ``SecretUnavailableError`` when it cannot be read
        here or names no supported URL (the message names neither value nor password).
        """
        if self.url is not None:
            value = self.url.get_secret_value()
            if not value.startswith(SUPPORTED_SCHEMES):
                raise SecretUnavailableError(
                    f"the value it names is not a database URL: {SCHEME_PROBLEM}"
                )
            return value
        # sqlite+aiosqlite:/// followed by an absolute path gives four slashes, as SQLAlchemy wants.
        return f"sqlite+aiosqlite:///{state_dir / DATABASE_FILE}"
