"""Which routes hear of which timeline events: the hook the alerts issue fills in.

The processor calls ``plan_notifications`` inside the transaction that stores the events and
writes whatever it returns to the outbox, so an event and its notifications are stored
together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailwatch.incidents.tickets import Ticket
from mailwatch.store.outbox import OutboxRow
from mailwatch.store.tickets import StoredEvent

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


def plan_notifications(
    events: Sequence[StoredEvent], ticket: Ticket | None, config: MailwatchConfig
) -> list[OutboxRow]:
    """Outbox rows for the events of one ticket (``ticket`` None: check-level events).

    Only events with ``notify`` set should ever produce rows. Nothing is routed yet: alert
    routes and escalation ladders arrive with the alerts issue.
    """
    del events, ticket, config
    return []
