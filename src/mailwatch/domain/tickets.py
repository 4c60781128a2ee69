"""Tickets: what an operator sees, numbered ``MW-000123`` from a counter that never goes back.

A ticket is a fold of its timeline (``mailwatch.domain.timeline``); the stored row is a
cache of that fold plus the latest failure summary.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

NUMBER_DIGITS = 6


class TicketStatus(enum.StrEnum):
    """Triggered by a failure; a person acknowledges it, mitigates it (a workaround is in
    place) or resolves it; recovery resolves it too."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not TicketStatus.RESOLVED


@dataclass(frozen=True, slots=True)
class Ticket:
    """One incident of one check and target (``dedup_key``); at most one open per key."""

    number: int
    dedup_key: str
    check: str
    target: str
    severity: int
    status: TicketStatus
    opened_at: datetime
    plan: str | None = None
    response_due: datetime | None = None
    resolution_due: datetime | None = None
    response_breached: bool = False
    resolution_breached: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    mitigated_at: datetime | None = None
    mitigated_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    previous_ticket: int | None = None
    last_stage: str | None = None
    last_summary: str = ""

    @property
    def is_open(self) -> bool:
        return self.status.is_open


def dedup_key(check: str, target: str) -> str:
    """Check name plus target: one open ticket per key. Check names cannot contain ``|``."""
    return f"{check}|{target}"


MAX_NUMBER = 2**31 - 1
"""The highest number a ticket can have (the store's INTEGER column on PostgreSQL)."""


def format_number(number: int, prefix: str) -> str:
    """``MW-000123``; numbers past 999999 simply grow a digit."""
    return f"{prefix}{number:0{NUMBER_DIGITS}d}"


_NUMBER_RE = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9]*-?|[A-Za-z]+)?(?P<digits>[0-9]+)")


def parse_number(text: str, prefix: str) -> int:
    """The number in ``MW-000123``, ``MW-123`` or ``123``; ``ValueError`` for anything else."""
    match = _NUMBER_RE.fullmatch(text.strip())
    example = format_number(123, prefix)
    if match is None:
        raise ValueError(f"{text!r} is not a ticket number; expected e.g. {example}")
    given = match["prefix"]
    if given is not None and given.lower() != prefix.lower():
        raise ValueError(
            f"{text!r} is not a ticket number of this mailwatch (its prefix is {prefix!r}); "
            f"expected e.g. {example}"
        )
    number = int(match["digits"])
    if number < 1:
        raise ValueError(f"{text!r} is not a ticket number; numbers start at 1")
    if number > MAX_NUMBER:
        raise ValueError(f"{text!r} is not a ticket number; no ticket has a number that high")
    return number
