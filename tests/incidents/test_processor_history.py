"""Each result the processor stores adds to its check's history in the same transaction, the
results of a silence counted as quiet (SQLite only: the SQL is tested on both engines in
tests/store/test_history.py)."""

from __future__ import annotations

from pathlib import Path

from helpers.builders import T0, config, minutes, result
from helpers.store_engines import sqlite_url
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result, record_silence
from mailwatch.store.history import availability_series, figure_series
from mailwatch.store.store import Store


async def test_results_processed_become_history_with_quiet_ones_apart(tmp_path: Path) -> None:
    cfg = config()
    store = await Store.open(sqlite_url(tmp_path))
    try:
        for i, state in enumerate([State.OK, State.CRITICAL, State.CRITICAL, State.OK]):
            now = T0 + minutes(i)
            if i == 2:
                await record_silence(store, cfg, "canary", now, now + minutes(1), "patch", "bob")
            await process_result(
                store, cfg, result(state, now, metrics={"latency_s": 2.0 + i}), now
            )
        async with store.read() as conn:
            (hour,) = await availability_series(conn, "canary", T0, T0 + minutes(60), 3600)
            (latency,) = await figure_series(
                conn, "canary", "latency_s", T0, T0 + minutes(60), 3600
            )
    finally:
        await store.close()
    assert (hour.states.ok, hour.states.critical) == (2, 2)
    assert (hour.quiet.critical, hour.outside_quiet.critical) == (1, 1)
    assert hour.stages == {"not_delivered": 2}
    assert (latency.count, latency.failures, latency.min, latency.max) == (4, 2, 2.0, 5.0)
