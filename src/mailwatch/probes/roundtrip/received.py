"""Received headers into hops: who handed the message to whom, when, and how long it sat.

Headers in the wild are messy; parsing never raises, it keeps what it can read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_WITH = re.compile(r"\bwith\s+([^\s;()]+)", re.IGNORECASE)
_ID = re.compile(r"\bid\s+([^\s;()]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hop:
    by: str | None
    from_host: str | None
    protocol: str | None
    queue_id: str | None
    time: datetime | None
    delay_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "from": self.from_host,
            "with": self.protocol,
            "id": self.queue_id,
            "time": self.time.isoformat() if self.time else None,
            "delay_s": None if self.delay_s is None else round(self.delay_s, 3),
        }


def parse_received(value: str) -> Hop:
    """One Received header value into a Hop; fields it cannot read are None."""
    text = " ".join(value.split())
    head, sep, date_part = text.rpartition(";")
    if not sep:
        head, date_part = text, ""
    return Hop(
        by=_first(_BY, head),
        from_host=_first(_FROM, head),
        protocol=_first(_WITH, head),
        queue_id=_first(_ID, head),
        time=_parse_date(date_part),
    )


def hops_from_headers(received: list[str], sent_at: datetime | None = None) -> list[Hop]:
    """Hops in the order the message travelled (the last Received header is the first hop).

    Each hop's delay is measured from the hop before it, the first one from ``sent_at``.
    """
    hops = []
    # Header times have whole seconds; compare like with like.
    previous = sent_at.replace(microsecond=0) if sent_at is not None else None
    for value in reversed(received):
        hop = parse_received(value)
        delay = None
        if hop.time is not None and previous is not None:
            delay = (hop.time - previous).total_seconds()
        hops.append(Hop(hop.by, hop.from_host, hop.protocol, hop.queue_id, hop.time, delay_s=delay))
        if hop.time is not None:
            previous = hop.time
    return hops


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else None
