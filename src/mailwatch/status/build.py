"""What a status snapshot needs from the store: open tickets, active silences, escalation
steps, the sites' states of checks several sites run and every check's last result, read in
the caller's transaction so that they agree with each other; the sites' votes counted from
them; and the live records brought up to the cluster's last results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.sites import SiteState
from mailwatch.incidents.policy import policy_for
from mailwatch.incidents.vote import Vote, count_votes, window_s
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import StoredFacts
from mailwatch.store.checks import latest_results
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
        latest=await latest_results(conn),
    )


def catch_up(
    checks: Mapping[str, CheckStatus], stored: StoredFacts, flapping: dict[str, bool]
) -> None:
    """Bring each check's live record up to its last stored result, whichever node ran it,
    so every node's status describes the whole cluster; ``flapping`` takes the engine's
    stored flag of each check."""
    for name, status in checks.items():
        latest = stored.latest.get((name, status.target))
        if latest is None or latest.result.kind != status.kind:
            continue
        status.catch_up(latest)
        flapping[name] = latest.flapping


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
