"""Run by ``test_crash.py`` as a separate process: processes results (and now and then a
tick or a person's action) in a loop, printing a line after each commit, until killed."""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import TicketActionError
from mailwatch.domain.results import CheckResult, State
from mailwatch.incidents.actions import acknowledge_ticket, resolve_ticket
from mailwatch.incidents.processor import process_result, tick
from mailwatch.store.store import Store
from mailwatch.store.tickets import open_tickets

CONFIG = MailwatchConfig.model_validate(
    {"incidents": {"open_after": 1, "resolve_after": 2, "result_retention": 1_000_000}}
)
STATES = (State.OK, State.OK, State.WARNING, State.CRITICAL)


async def main(url: str) -> None:
    store = await Store.open(url)
    rnd = random.Random()
    while True:
        now = datetime.now(UTC)
        roll = rnd.random()
        if roll < 0.9:
            check = rnd.choice(("imap", "smtp", "mx"))
            state = rnd.choice(STATES)
            result = CheckResult(
                check=check,
                kind="roundtrip",
                target=check,
                state=state,
                summary=f"{check} {state.label} " + "x" * rnd.randrange(2000),
                started_at=now - timedelta(seconds=1),
                finished_at=now,
                stage=None if state is State.OK else "not_delivered",
                details={"padding": "y" * rnd.randrange(4000)},
            )
            await process_result(store, CONFIG, result, now)
        elif roll < 0.95:
            await tick(store, CONFIG, now)
        else:
            async with store.read() as conn:
                found = await open_tickets(conn)
            if found:
                ticket = rnd.choice(found)
                try:
                    if roll < 0.975:
                        await acknowledge_ticket(store, CONFIG, ticket.number, "op", "on it", now)
                    else:
                        await resolve_ticket(store, CONFIG, ticket.number, "op", "done", now)
                except TicketActionError:
                    pass
        print("committed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
