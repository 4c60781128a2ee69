"""Quiet periods: while one covers a check, its tickets open as usual but nobody is told.

A maintenance window comes from the config; a silence from ``mailwatch silence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ALL_CHECKS = "all"
"""A window or silence naming ``all`` covers every check."""


@dataclass(frozen=True, slots=True)
class Quiet:
    """Why a check is quiet right now, and until when (None: until someone ends it)."""

    kind: Literal["maintenance", "silence"]
    reason: str
    until: datetime | None


@dataclass(frozen=True, slots=True)
class Silence:
    """Ad hoc maintenance from ``mailwatch silence``: one check or ``all``, for a while."""

    id: int
    check: str
    starts_at: datetime
    until: datetime
    reason: str
    created_by: str
    ended_at: datetime | None = None
    ended_by: str | None = None

    def covers(self, check: str) -> bool:
        return self.check in (ALL_CHECKS, check)

    def active_at(self, now: datetime) -> bool:
        end = self.until if self.ended_at is None else min(self.until, self.ended_at)
        return self.starts_at <= now < end
