"""What a status snapshot needs from the store: open tickets, active silences, escalation
steps and the sites' states of checks several sites run, read in the caller's transaction so
that they agree with each other; and the sites' votes counted from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.sites import SiteState
from mailwatch.incidents.policy import policy_for
from mailwatch.incidents.vote import Vote, count_votes, window_s
from mailwatch.status.model import StoredFacts
from mailwatch.store.outbox import escalation_steps
from mailwatch.store.silences import active_silences
from mailwatch.store.sites import sites_by_check
from mailwatch.store.tickets import open_tickets

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


async def read_stored_facts(conn: AsyncConnection, now: datetime) -> StoredFacts:
    """The store's part of the snapshot at ``now``."""
    return StoredFacts(
        tickets=await open_tickets(conn),
        silences=await active_silences(conn, now),
        escalation_steps=await escalation_steps(conn),
        sites=await sites_by_check(conn),
    )


def count_site_votes(
    config: MailwatchConfig, sites: Mapping[str, Sequence[SiteState]], now: datetime
) -> dict[str, Vote]:
    """The vote at ``now`` of every enabled check with ``run_from``, by check name: the same
    count the processor makes (``mailwatch.incidents.vote``)."""
    votes = {}
    for check in config.enabled_checks():
        if check.run_from is None:
            continue
        window = window_s(check.interval_s, check.timeout_s)
        policy = policy_for(config, check.name)
        states = sites.get(check.name, ())
        votes[check.name] = count_votes(states, check.run_from, check.quorum, policy, window, now)
    return votes
