"""Notices: why a message goes out about a ticket, and where its outbox row stands.

A *notice* is one message about one ticket to one route (docs/architecture.md, glossary);
the outbox holds one row per notice, and its status says how far delivery got.
"""

from __future__ import annotations

import enum


class NoticeKind(enum.StrEnum):
    """Why a message goes out about a ticket (or, ``maintenance``, about a window)."""

    OPENED = "opened"
    ESCALATION = "escalation"
    REMINDER = "reminder"
    BREACH = "breach"
    RECOVERY = "recovery"
    TEST = "test"
    MAINTENANCE = "maintenance"
    """A maintenance window announced (``announce_before``), started or ended; about no
    ticket, so delivered by ``mailwatch.alerts.announcer``, not the ticket outbox."""


class OutboxStatus(enum.StrEnum):
    """Where an outbox row stands (docs/alerts.md)."""

    SCHEDULED = "scheduled"
    """A later escalation step or reminder, due at ``next_attempt_at``."""
    PENDING = "pending"
    """Due now, not yet tried."""
    SENDING = "sending"
    """Claimed by a sender; delivery in flight."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Tried and failed; tried again at ``next_attempt_at``."""
    DEAD = "dead"
    """Given up after ``[outbox] give_up_after_s``."""
    CANCELLED = "cancelled"
    """No longer wanted (the ticket was acknowledged, resolved, ...)."""


UNTRIED_STATUSES = (OutboxStatus.SCHEDULED, OutboxStatus.PENDING)
"""Rows nobody has tried to send yet: the ones a cancellation may still stop."""

DUE_STATUSES = (OutboxStatus.SCHEDULED, OutboxStatus.PENDING, OutboxStatus.FAILED)
"""Rows the sender picks up once ``next_attempt_at`` has come."""

TOLD_STATUSES = (OutboxStatus.DELIVERED, OutboxStatus.SENDING, OutboxStatus.FAILED)
"""A route in one of these has heard of the ticket, or is being told (retries go on)."""

BACKLOG_STATUSES = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
"""Rows that still have to reach someone: not yet tried, being sent, or waiting to retry."""
