"""Quiet periods: while one covers a check, its tickets open as usual but nobody is told.

A maintenance window comes from the config; a silence from ``mailwatch silence``.
``quiet_for`` says which covers a check now: pure, no clock is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from mailwatch.domain.time import parse_duration

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


class Window(Protocol):
    """A maintenance window as ``quiet_for`` sees it (``MaintenanceWindowConfig`` is one)."""

    @property
    def name(self) -> str: ...

    def covers(self, check: str) -> bool: ...

    def active_until(self, now: datetime) -> datetime | None:
        """The end of the occurrence that contains ``now``, or None when none does."""
        ...


def quiet_for(
    check: str,
    now: datetime,
    windows: Iterable[Window],
    silences: Iterable[Silence],
) -> Quiet | None:
    """The quiet period covering ``check`` at ``now``; windows before silences."""
    for window in windows:
        if window.covers(check):
            until = window.active_until(now)
            if until is not None:
                return Quiet("maintenance", f"maintenance window {window.name!r}", until)
    for silence in silences:
        if silence.covers(check) and silence.active_at(now):
            return Quiet(
                "silence",
                f"silenced by {silence.created_by}: {silence.reason}",
                silence.until,
            )
    return None


SILENCE_AT_MOST = timedelta(days=366)
"""Longer quiet belongs in a maintenance window of the config."""


def parse_silence_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``, ``1h30m``: wall-clock time (``parse_duration``), longer than
    zero and at most a year; ``ValueError`` otherwise."""
    try:
        total = parse_duration(text)
    except ValueError:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w), "
            "e.g. 30m, 2h, 1d or 1h30m"
        ) from None
    if total <= timedelta(0):
        raise ValueError(f"invalid duration {text!r}: must be longer than zero")
    if total > SILENCE_AT_MOST:
        raise ValueError(f"invalid duration {text!r}: at most a year; use a config window")
    return total
