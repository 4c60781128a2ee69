"""History: results rolled up into 5-minute and 1-hour buckets per check and figure, kept for
``[store] history_days``; the graphs and the report read them. Pure: no clock, no database.

A **figure bucket** holds one figure's values (a result's metric, or ``duration_s``) over one
interval: count, failures, sum, min, max and a ``Sketch`` for its percentiles. An
**availability bucket** holds the check's results over one interval counted by state and by
failure stage, and separately those recorded in a quiet period (maintenance or silence).
Buckets of one check and figure merge by adding, so wider buckets (a day, for a year's graph)
are merged from hourly ones and several nodes may add to one bucket: ``merge`` of the buckets
of two sets of results equals the bucket of all of them (docs/history.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mailwatch.domain.results import CheckResult, State

FINE_WIDTH_S = 300
"""The narrow stored width: 5 minutes, kept ``FINE_DAYS`` (the 1 h and 24 h graphs)."""

HOUR_WIDTH_S = 3600
"""The wide stored width: 1 hour, kept ``[store] history_days``; wider buckets (1 d for a
year's graph) are merged from these when read."""

STORED_WIDTHS_S = (FINE_WIDTH_S, HOUR_WIDTH_S)

FINE_DAYS = 35
"""How long 5-minute buckets are kept (at most ``history_days``): a 30-day graph at 5-minute
resolution, with room for a month of 31 days and the days around it."""

DURATION_FIGURE = "duration_s"
"""The figure every result has besides its metrics: how long the run took."""

RELATIVE_ERROR = 0.01
"""A sketch's quantile is within 1 % of the true value (relative), for any value whose
magnitude is at least ``ZERO_BELOW``."""

ZERO_BELOW = 1e-9
"""Values of smaller magnitude are counted as 0 (an absolute error below 1e-9)."""

_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_ZERO_KEY = "z"
_NEGATIVE = "n"


def bin_key(value: float) -> str:
    """The sketch bin of ``value``: ``"z"`` for (near) zero; for a positive value the integer
    ``i`` with gamma**(i-1) < value <= gamma**i, as text; ``"n"`` and that integer of the
    magnitude for a negative value. gamma = (1 + a) / (1 - a), a = ``RELATIVE_ERROR``."""
    magnitude = abs(value)
    if magnitude < ZERO_BELOW:
        return _ZERO_KEY
    index = math.ceil(math.log(magnitude) / _LOG_GAMMA)
    return f"{_NEGATIVE}{index}" if value < 0 else str(index)


def bin_value(key: str) -> float:
    """The value a bin stands for: 2 * gamma**i / (gamma + 1), within ``RELATIVE_ERROR`` of
    every value in the bin."""
    if key == _ZERO_KEY:
        return 0.0
    negative = key.startswith(_NEGATIVE)
    index = int(key[1:] if negative else key)
    value = 2 * _GAMMA**index / (_GAMMA + 1)
    return -value if negative else value


@dataclass(frozen=True, slots=True)
class Sketch:
    """Counts of values in fixed log-spaced bins (a DDSketch with a fixed gamma and no
    collapsing): merging two sketches adds their counts, so merging is exact and commutative.

    ``bins`` maps ``bin_key`` to a count; only bins with values are present.
    """

    bins: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Iterable[float]) -> Sketch:
        bins: dict[str, int] = {}
        for value in values:
            key = bin_key(value)
            bins[key] = bins.get(key, 0) + 1
        return cls(bins)

    @property
    def count(self) -> int:
        return sum(self.bins.values())

    def merge(self, other: Sketch) -> Sketch:
        bins = dict(self.bins)
        for key, count in other.bins.items():
            bins[key] = bins.get(key, 0) + count
        return Sketch(bins)

    def quantile(self, q: float) -> float | None:
        """The value of rank floor(q * (n - 1)) (0-based) among the n values counted, within
        ``RELATIVE_ERROR`` of the true one; None when empty. ``q`` in [0, 1]."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile {q} is not between 0 and 1")
        n = self.count
        if n == 0:
            return None
        rank = math.floor(q * (n - 1))
        seen = 0
        for value, count in sorted((bin_value(k), c) for k, c in self.bins.items()):
            seen += count
            if seen > rank:
                return value
        raise AssertionError("unreachable: the ranks are fewer than the counts")


def bucket_start(at: datetime, width_s: int) -> datetime:
    """The start of the bucket of width ``width_s`` holding ``at``: buckets are aligned to the
    Unix epoch, so a day's bucket starts at 00:00 UTC."""
    epoch_s = math.floor(at.timestamp())
    return datetime.fromtimestamp(epoch_s - epoch_s % width_s, UTC)


@dataclass(frozen=True, slots=True)
class FigureBucket:
    """One figure of one check over [start, start + width_s).

    ``count`` values, ``failures`` of them from results that were not ok; ``total`` their sum
    (a counter figure's increase over the bucket). ``site`` is the site whose results these
    are for a check run from several sites (``run_from``), ``""`` for an ordinary check, and
    None when several sites' buckets were merged.
    """

    check: str
    figure: str
    start: datetime
    width_s: int
    count: int
    failures: int
    total: float
    min: float
    max: float
    sketch: Sketch
    site: str | None = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.width_s)

    @property
    def mean(self) -> float:
        return self.total / self.count

    def quantile(self, q: float) -> float:
        """The sketch's quantile (``Sketch.quantile``), kept within [min, max]."""
        value = self.sketch.quantile(q)
        assert value is not None, "a bucket holds at least one value"
        return min(max(value, self.min), self.max)

    def merge(self, other: FigureBucket, width_s: int | None = None) -> FigureBucket:
        """Both buckets as one of ``width_s`` (default: this one's) starting at the earlier
        start; the sites kept when equal, else None."""
        return FigureBucket(
            check=self.check,
            figure=self.figure,
            start=min(self.start, other.start),
            width_s=self.width_s if width_s is None else width_s,
            count=self.count + other.count,
            failures=self.failures + other.failures,
            total=self.total + other.total,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            sketch=self.sketch.merge(other.sketch),
            site=self.site if self.site == other.site else None,
        )


@dataclass(frozen=True, slots=True)
class StateCounts:
    """Results counted by state."""

    ok: int = 0
    warning: int = 0
    critical: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, state: State) -> StateCounts:
        return cls(**{state.label: 1})

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.critical + self.unknown

    @property
    def failures(self) -> int:
        """Results that were not ok."""
        return self.total - self.ok

    def __getitem__(self, state: State) -> int:
        return int(getattr(self, state.label))

    def __add__(self, other: StateCounts) -> StateCounts:
        return StateCounts(
            self.ok + other.ok,
            self.warning + other.warning,
            self.critical + other.critical,
            self.unknown + other.unknown,
        )

    def __sub__(self, other: StateCounts) -> StateCounts:
        return StateCounts(
            self.ok - other.ok,
            self.warning - other.warning,
            self.critical - other.critical,
            self.unknown - other.unknown,
        )


@dataclass(frozen=True, slots=True)
class AvailabilityBucket:
    """The results of one check over [start, start + width_s): ``states`` counts all of them
    by state, ``quiet`` those recorded while a quiet period (a maintenance window or a
    silence) covered the check, ``stages`` the failed ones by failure stage (``""`` for a
    failure without a stage). ``site`` as in ``FigureBucket``."""

    check: str
    start: datetime
    width_s: int
    states: StateCounts
    quiet: StateCounts
    stages: Mapping[str, int]
    site: str | None = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.width_s)

    @property
    def count(self) -> int:
        return self.states.total

    @property
    def outside_quiet(self) -> StateCounts:
        """The results recorded outside quiet periods: what an SLA's availability counts."""
        return self.states - self.quiet

    def merge(self, other: AvailabilityBucket, width_s: int | None = None) -> AvailabilityBucket:
        stages = dict(self.stages)
        for stage, count in other.stages.items():
            stages[stage] = stages.get(stage, 0) + count
        return AvailabilityBucket(
            check=self.check,
            start=min(self.start, other.start),
            width_s=self.width_s if width_s is None else width_s,
            states=self.states + other.states,
            quiet=self.quiet + other.quiet,
            stages=stages,
            site=self.site if self.site == other.site else None,
        )


FIGURE_NAME_MAX = 255
"""Longer metric names (a mount path in ``disk_{mount}_free_bytes``) are left out of the
history rather than fail the transaction that stores the result."""


def result_figures(result: CheckResult) -> dict[str, float]:
    """The figures a result adds to its check's history: its finite metrics (named in at
    most ``FIGURE_NAME_MAX`` characters) and ``duration_s``."""
    figures = {
        key: float(value)
        for key, value in result.metrics.items()
        if isinstance(value, int | float) and math.isfinite(value) and len(key) <= FIGURE_NAME_MAX
    }
    figures[DURATION_FIGURE] = result.duration_s
    return figures


def result_at(result: CheckResult) -> datetime:
    """The instant a result is filed under: when its run finished."""
    return result.finished_at


def figure_buckets(result: CheckResult, width_s: int, site: str | None = "") -> list[FigureBucket]:
    """One bucket of ``width_s`` per figure of ``result``, holding that result alone."""
    start = bucket_start(result_at(result), width_s)
    failed = 0 if result.state is State.OK else 1
    return [
        FigureBucket(
            result.check,
            figure,
            start,
            width_s,
            1,
            failed,
            value,
            value,
            value,
            Sketch({bin_key(value): 1}),
            site,
        )
        for figure, value in result_figures(result).items()
    ]


def availability_bucket(
    result: CheckResult, width_s: int, quiet: bool, site: str | None = ""
) -> AvailabilityBucket:
    """The availability bucket of ``width_s`` holding ``result`` alone; ``quiet`` when a quiet
    period covered the check as it was recorded."""
    counted = StateCounts.of(result.state)
    stages = {} if result.state is State.OK else {result.stage or "": 1}
    return AvailabilityBucket(
        result.check,
        bucket_start(result_at(result), width_s),
        width_s,
        counted,
        counted if quiet else StateCounts(),
        stages,
        site,
    )


def merge_figure_buckets(buckets: Iterable[FigureBucket], width_s: int) -> list[FigureBucket]:
    """Buckets of one check and figure merged into buckets of ``width_s`` (a multiple of
    theirs), in order of start."""
    merged: dict[datetime, FigureBucket] = {}
    for bucket in buckets:
        start = bucket_start(bucket.start, width_s)
        found = merged.get(start)
        if found is None:
            merged[start] = _rewidth(bucket, start, width_s)
        else:
            merged[start] = found.merge(bucket, width_s)
    return [merged[start] for start in sorted(merged)]


def merge_availability_buckets(
    buckets: Iterable[AvailabilityBucket], width_s: int
) -> list[AvailabilityBucket]:
    """Availability buckets of one check merged into buckets of ``width_s``, in order."""
    merged: dict[datetime, AvailabilityBucket] = {}
    for bucket in buckets:
        start = bucket_start(bucket.start, width_s)
        found = merged.get(start)
        if found is None:
            merged[start] = AvailabilityBucket(
                bucket.check,
                start,
                width_s,
                bucket.states,
                bucket.quiet,
                dict(bucket.stages),
                bucket.site,
            )
        else:
            merged[start] = found.merge(bucket, width_s)
    return [merged[start] for start in sorted(merged)]


def _rewidth(bucket: FigureBucket, start: datetime, width_s: int) -> FigureBucket:
    return FigureBucket(
        bucket.check,
        bucket.figure,
        start,
        width_s,
        bucket.count,
        bucket.failures,
        bucket.total,
        bucket.min,
        bucket.max,
        bucket.sketch,
        bucket.site,
    )
