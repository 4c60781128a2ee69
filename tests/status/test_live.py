"""The daemon's live record of a check: ``since`` moves only when the state changes."""

from __future__ import annotations

from datetime import timedelta

from mailwatch.domain.results import State
from mailwatch.status.live import CheckStatus
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
