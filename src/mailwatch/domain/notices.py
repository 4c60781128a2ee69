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
    UNCERTAIN = "uncertain"
    """Cut off mid-attempt more often than ``[outbox] max_interrupted_resends`` allows: the
    receiver may or may not have it; never sent again."""
    CANCELLED = "cancelled"
    """No longer wanted (the ticket was acknowledged, resolved, ...)."""


UNTRIED_STATUSES = (OutboxStatus.SCHEDULED, OutboxStatus.PENDING)
"""Rows nobody has tried to send yet: the ones a cancellation may still stop."""

DUE_STATUSES = (OutboxStatus.SCHEDULED, OutboxStatus.PENDING, OutboxStatus.FAILED)
"""Rows the sender picks up once ``next_attempt_at`` has come."""

TOLD_STATUSES = (
    OutboxStatus.DELIVERED,
    OutboxStatus.SENDING,
    OutboxStatus.FAILED,
    OutboxStatus.UNCERTAIN,
)
"""A route in one of these has heard of the ticket, or is being told (retries go on), or may
have heard (``uncertain``: it is told of the recovery all the same)."""

BACKLOG_STATUSES = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)
"""Rows that still have to reach someone: not yet tried, being sent, or waiting to retry."""


ROUTE_TEST_PREFIX = "route-test:"
"""Check names of route tests (``[routes.NAME] test_every``): ``route-test:NAME``. A configured
check's name cannot contain ``:``, so the two never meet."""

ROUTE_TEST_KIND = "route_test"
"""The kind of a route test's results: no check kind, no probe; the daemon sends the test."""


def route_test_check(route: str) -> str:
    """The synthetic check whose results are the tests of ``route``."""
    return f"{ROUTE_TEST_PREFIX}{route}"


def tested_route(check: str) -> str | None:
    """The route a ``route-test:NAME`` check tests; None for any other check."""
    if check.startswith(ROUTE_TEST_PREFIX):
        return check[len(ROUTE_TEST_PREFIX) :]
    return None
