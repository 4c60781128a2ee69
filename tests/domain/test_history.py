"""History buckets, pure: merging buckets equals bucketing the merged results (so wider buckets
and several nodes' buckets add up), and a sketch's percentiles stay within its stated error."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.builders import T0, result
from mailwatch.domain.history import (
    DURATION_FIGURE,
    RELATIVE_ERROR,
    ZERO_BELOW,
    FigureBucket,
    Sketch,
    availability_bucket,
    figure_buckets,
    merge_availability_buckets,
    merge_figure_buckets,
)
from mailwatch.domain.results import CheckResult, State

# Latencies, queue sizes, free bytes and days left (negative once expired): a wide range of
# magnitudes, both signs, and exact zeros.
VALUES = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-6, max_value=1e12),
    st.floats(min_value=-1e4, max_value=-1e-6),
)


@st.composite
def results(draw: st.DrawFn) -> CheckResult:
    state = draw(st.sampled_from(list(State)))
    at = T0 + timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    figures = draw(st.dictionaries(st.sampled_from(["latency_s", "queue", "days_left"]), VALUES))
    stage = draw(st.sampled_from(["not_delivered", "smtp_connect", None]))
    return result(state, at, metrics=figures, stage=stage if state is not State.OK else None)


def bucketed(items: list[CheckResult], width_s: int) -> dict[str, list[FigureBucket]]:
    by_figure: dict[str, list[FigureBucket]] = {}
    for item in items:
        for bucket in figure_buckets(item, width_s):
            by_figure.setdefault(bucket.figure, []).append(bucket)
    return {f: merge_figure_buckets(b, width_s) for f, b in by_figure.items()}


def comparable(buckets: list[FigureBucket]) -> list[tuple[object, ...]]:
    """Everything but the sum, which float addition in another order may round differently."""
    return [
        (b.start, b.width_s, b.count, b.failures, b.min, b.max, dict(b.sketch.bins))
        for b in buckets
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(results(), max_size=40), st.lists(results(), max_size=40))
def test_merging_buckets_equals_bucketing_the_merged_results(
    first: list[CheckResult], second: list[CheckResult]
) -> None:
    """Two nodes' 5-minute buckets merged, and then merged to hours and days, are the buckets
    of all their results at once."""
    together = first + second
    for width_s in (300, 3600, 86400):
        direct = bucketed(together, width_s)
        fine_a, fine_b = bucketed(first, 300), bucketed(second, 300)
        for figure in direct:
            merged = merge_figure_buckets(fine_a.get(figure, []) + fine_b.get(figure, []), width_s)
            assert comparable(merged) == comparable(direct[figure])
            for m, d in zip(merged, direct[figure], strict=True):
                assert m.total == pytest.approx(d.total, rel=1e-9, abs=1e-6)
        assert set(direct) == set(fine_a) | set(fine_b)
        availability = merge_availability_buckets(
            [availability_bucket(r, 300, quiet=i % 2 == 0) for i, r in enumerate(together)],
            width_s,
        )
        assert sum(b.count for b in availability) == len(together)
        for bucket in availability:
            inside = [r for r in together if bucket.start <= r.finished_at < bucket.end]
            assert [bucket.states[s] for s in State] == [
                sum(r.state is s for r in inside) for s in State
            ]
            assert sum(bucket.stages.values()) == sum(r.state is not State.OK for r in inside)


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=300), st.floats(min_value=0, max_value=1))
def test_a_quantile_is_within_the_stated_relative_error(values: list[float], q: float) -> None:
    exact = sorted(values)[math.floor(q * (len(values) - 1))]
    estimate = Sketch.of(values).quantile(q)
    assert estimate is not None
    # The bin boundaries are computed with a logarithm: a value on one may land a rounding
    # error beyond it, hence the tiny slack.
    assert abs(estimate - exact) <= RELATIVE_ERROR * abs(exact) * (1 + 1e-9) + ZERO_BELOW


def test_a_bucket_reports_its_figures_and_keeps_quantiles_within_its_extremes() -> None:
    runs = [
        result(State.OK, T0 + timedelta(minutes=i), metrics={"latency_s": 2.0 + i})
        for i in range(4)
    ] + [result(State.CRITICAL, T0 + timedelta(minutes=4), metrics={"latency_s": 30.0})]
    (latency,) = bucketed(runs, 3600)["latency_s"]
    assert (latency.count, latency.failures, latency.min, latency.max) == (5, 1, 2.0, 30.0)
    assert latency.mean == pytest.approx((2 + 3 + 4 + 5 + 30) / 5)
    assert latency.quantile(0.5) == pytest.approx(4.0, rel=RELATIVE_ERROR)
    assert latency.quantile(1.0) == 30.0  # the bin's value, clamped to the maximum
    assert latency.quantile(0.0) == 2.0
    assert latency.end - latency.start == timedelta(hours=1)
    # Every result has a duration, even one without metrics.
    assert set(bucketed(runs, 300)) == {"latency_s", DURATION_FIGURE}


def test_quiet_results_are_counted_apart_for_the_sla() -> None:
    runs = [
        availability_bucket(result(State.CRITICAL, T0, stage="not_delivered"), 3600, True),
        availability_bucket(result(State.CRITICAL, T0, stage="smtp_connect"), 3600, False),
        availability_bucket(result(State.OK, T0), 3600, False),
    ]
    (hour,) = merge_availability_buckets(runs, 3600)
    assert (hour.states.ok, hour.states.critical, hour.states.failures) == (1, 2, 2)
    assert hour.outside_quiet.critical == 1 and hour.outside_quiet.ok == 1
    assert hour.stages == {"not_delivered": 1, "smtp_connect": 1}
