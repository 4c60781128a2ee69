"""The daemon's live record of a check: ``since`` moves only when the state changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailwatch.domain.results import State
from mailwatch.status.live import CheckStatus
from mailwatch.store.checks import LatestResult
from status.sample import NOW, result


def test_record_tracks_state_changes_and_the_last_ok() -> None:
    status = CheckStatus("disk", "resources", "/var")
    first, second, third = (NOW + timedelta(minutes=m) for m in (0, 1, 2))
    assert status.record(result("disk", State.OK, "fine", first, metrics={"free_pct": 40}))
    assert not status.record(result("disk", State.OK, "fine", second))
    assert (status.since, status.last_run_at, status.last_ok_at) == (first, second, second)
    assert status.metrics == {}
    assert status.record(result("disk", State.WARNING, "9% free", third, "low_space"))
    assert (status.state, status.stage, status.since, status.last_ok_at) == (
        State.WARNING,
        "low_space",
        third,
        second,
    )


def stored(
    state: State, at: datetime, node: str, failing_since: datetime | None = None
) -> LatestResult:
    return LatestResult(
        result=result("smtp-in", state, "seen by " + node, at),
        result_id=1,
        node=node,
        site=node,
        flapping=False,
        failing_since=failing_since,
    )


def test_a_check_another_node_runs_takes_its_stored_results_newer_ones_only() -> None:
    """The status of a node describes checks other nodes run: the last stored result, by
    whichever node (docs/cluster.md, "Every node shows the whole cluster")."""
    status = CheckStatus("smtp-in", "service", "127.0.0.1:25")
    began = NOW - timedelta(minutes=5)
    # First seen failing: the state began when the stored failure streak did.
    assert status.catch_up(stored(State.CRITICAL, NOW, "mon-a", failing_since=began))
    assert (status.state, status.since, status.node, status.last_ok_at) == (
        State.CRITICAL,
        began,
        "mon-a",
        None,
    )
    # The same result again, or an older one, changes nothing.
    assert not status.catch_up(stored(State.OK, NOW, "mon-b"))
    assert not status.catch_up(stored(State.OK, NOW - timedelta(seconds=1), "mon-b"))
    later = NOW + timedelta(minutes=1)
    assert status.catch_up(stored(State.OK, later, "mon-b"))
    assert (status.state, status.since, status.node, status.last_ok_at) == (
        State.OK,
        later,
        "mon-b",
        later,
    )
