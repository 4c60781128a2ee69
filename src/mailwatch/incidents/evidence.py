"""The evidence a ticket's root-cause pack keeps, recorded in the transaction that opens it:
the result that opened it, the first failure of its streak, and the latest result of each
related check (a queue check's figures are the queue snapshot). Results are pruned after
``result_retention``; these records stay with the ticket."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.evidence import MAX_RELATED, Evidence, EvidenceKind, result_evidence
from mailwatch.domain.results import CheckResult
from mailwatch.domain.tickets import dedup_key
from mailwatch.incidents.related import related_checks, secrets_of
from mailwatch.store.checks import load_state
from mailwatch.store.evidence import first_failure, insert_evidence, latest_result

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


async def record_opening(
    conn: AsyncConnection,
    config: MailwatchConfig,
    ticket: int,
    result: CheckResult,
    now: datetime,
) -> list[Evidence]:
    """Record, in the caller's transaction, what is known as ticket ``ticket`` opens on
    ``result``; the records written."""
    related = related_checks(config, result.check, MAX_RELATED)
    own = config.check_named(result.check)
    secrets = secrets_of([c for c in [own, *(r.check for r in related)] if c is not None])
    records = [
        Evidence(ticket, now, EvidenceKind.OPENING, result.check, result_evidence(result, secrets))
    ]
    key = dedup_key(result.check, result.target)
    first = await first_failure(conn, key)
    # Results are pruned to result_retention: the oldest failure kept is the streak's first only
    # when it is no later than the engine's failing_since (saved by the caller just before).
    state = await load_state(conn, key, result.check, result.target, None)
    since = state.failing_since if state is not None else None
    if (
        first is not None
        and first.finished_at < result.finished_at
        and since is not None
        and first.finished_at <= since
    ):
        data = result_evidence(first, secrets)
        records.append(Evidence(ticket, now, EvidenceKind.FIRST_FAILURE, result.check, data))
    for item in related:
        latest = await latest_result(conn, dedup_key(item.check.name, item.check.target))
        if latest is None:
            continue
        kind = EvidenceKind.QUEUE if item.check.kind == "queue" else EvidenceKind.RELATED
        data = result_evidence(latest, secrets, item.relation)
        records.append(Evidence(ticket, now, kind, item.check.name, data))
    await insert_evidence(conn, records)
    return records
