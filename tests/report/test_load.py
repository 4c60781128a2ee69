"""The report's read of a period's hours (``mailwatch.report.load``): runs of healthy hours
within a day are read as one bucket, and the report's figures are those of the hours one by
one, for any hours, maintenance windows, time zone and check interval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.domain.history import HOUR_WIDTH_S
from mailwatch.report.load import _bucket, compact_states, day_starts
from mailwatch.report.model import BucketCounts, CheckHistory, Layout, Window, build_report
from mailwatch.store.history_rows import HourStates

START = datetime(2025, 3, 28, tzinfo=UTC)
"""Takes in Europe/Berlin's change to summer time (30 March) and a month's end."""
HOURS = 24 * 6

hour_states = st.one_of(
    st.none(),  # no results that hour
    st.builds(lambda ok, unknown: (ok, 0, 0, unknown, {}), st.integers(1, 60), st.integers(0, 2)),
    st.builds(
        lambda ok, warning, critical: (ok, warning, critical, 0, {"smtp_connect": critical}),
        st.integers(0, 60),
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    st.just((0, 0, 0, 5, {})),  # unknown only: not measured
)


@settings(max_examples=150, deadline=None)
@given(
    hours=st.lists(hour_states, min_size=HOURS, max_size=HOURS),
    windows=st.lists(st.tuples(st.integers(0, HOURS * 60), st.integers(1, 300)), max_size=4),
    zone=st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")]),
    interval_s=st.sampled_from([60.0, 3600.0, 4 * 3600.0]),
    layout=st.sampled_from(list(Layout)),
)
def test_compacted_hours_give_the_same_figures(
    hours: list[tuple[int, int, int, int, dict[str, int]] | None],
    windows: list[tuple[int, int]],
    zone: ZoneInfo,
    interval_s: float,
    layout: Layout,
) -> None:
    first = int(START.timestamp())
    read = [
        HourStates(first + i * HOUR_WIDTH_S, *counts)
        for i, counts in enumerate(hours)
        if counts is not None
    ]
    end = START + timedelta(hours=HOURS)
    maintenance = [
        Window("w", START + timedelta(minutes=at), START + timedelta(minutes=at + length))
        for at, length in windows
    ]

    def report(states: Sequence[BucketCounts]) -> list[object]:
        history = CheckHistory(
            "mx-main", "mx", "example.org", states=states, maintenance=maintenance,
            interval_s=interval_s,
        )  # fmt: skip
        built = build_report([history], START, end, zone=zone, layout=layout, now=end)
        check = built.checks[0]
        return [check.availability, check.stages, *(p.availability for p in check.bars)]

    compacted = compact_states(read, day_starts(START, end, zone), interval_s)
    one_by_one = [_bucket(h, HOUR_WIDTH_S) for h in read]
    assert len(compacted) <= len(one_by_one)
    for got, expected in zip(report(compacted), report(one_by_one), strict=True):
        if isinstance(expected, list):
            assert got == expected
        else:
            for name in ("period_s", "maintenance_s", "measured_s", "down_s", "degraded_s"):
                assert abs(getattr(got, name) - getattr(expected, name)) < 1e-6, name


def test_a_healthy_day_is_one_bucket_and_an_outage_splits_it() -> None:
    first = int(START.timestamp())
    read = [HourStates(first + i * HOUR_WIDTH_S, 60, 0, 0, 0, {}) for i in range(48)]
    read[30] = HourStates(first + 30 * HOUR_WIDTH_S, 50, 0, 10, 0, {"smtp_connect": 10})
    days = day_starts(START, START + timedelta(days=2), UTC)
    got = [(b.start, b.width_s, b.ok, b.critical) for b in compact_states(read, days, 60)]
    hour = timedelta(hours=1)
    assert got == [
        (START, 24 * 3600, 24 * 60, 0),
        (START + 24 * hour, 6 * 3600, 6 * 60, 0),
        (START + 30 * hour, 3600, 50, 10),
        (START + 31 * hour, 17 * 3600, 17 * 60, 0),
    ]
