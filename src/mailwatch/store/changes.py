"""One cheap question for a daemon with a browser watching: did anything people act on change
in the store, whoever changed it (the CLI, another node)? Its answer, the change marker, is a
few indexed maxima and a count read in one query; it moves when a timeline event is added
(every ticket change writes one: opened, acknowledged, resolved, silenced, escalated...), a
silence is added or ended, or a check's shown state or stage changes (``changed_result_id``).
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.store.schema import check_states, silences, ticket_events

_MARKER = select(
    select(func.max(ticket_events.c.id)).scalar_subquery(),
    select(func.max(silences.c.id)).scalar_subquery(),
    # Silences are never deleted and few (one per `mailwatch silence`): counting the ended
    # ones is a short scan.
    select(func.count(silences.c.ended_at)).scalar_subquery(),
    select(func.max(check_states.c.changed_result_id)).scalar_subquery(),
)
"""Built once: asked once a second while a browser watches."""


async def change_marker(conn: AsyncConnection) -> Hashable:
    """The store's change marker now: equal to an earlier one when nothing it follows moved."""
    return tuple((await conn.execute(_MARKER)).one())
