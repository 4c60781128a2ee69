"""Mail queues as numbers: the MTAs' queue listings parsed, growth computed, limits applied.

Pure: no subprocesses, no clock. ``mailwatch.probes.queue`` runs the commands and passes their
output and the time in; tests feed it captured output.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailwatch.config.checks.levels import Limits, classify
from mailwatch.config.checks.queue import QueueStage
from mailwatch.domain.results import State
from mailwatch.domain.time import SpanStyle, span

POSTFIX_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
"""The queue names ``postqueue -j`` reports in ``queue_name``."""

PARTS = ("active", "incoming", "deferred", "hold", "frozen")
"""Per-queue counts in the order the summary names them. ``incoming`` includes ``maildrop``."""

FINDING_ORDER = (
    QueueStage.QUEUE_GROWTH,
    QueueStage.QUEUE_DEFERRED,
    QueueStage.QUEUE_SIZE,
    QueueStage.QUEUE_HOLD,
    QueueStage.QUEUE_FROZEN,
    QueueStage.QUEUE_AGE,
    QueueStage.QUEUE_PARSE,
)
"""Between findings of equal state, the earlier names the result's stage: a queue that keeps
growing is the more urgent news than one that is large."""

MAX_SAMPLES = 100
SHOWN_CHARS = 80
LATEST_EPOCH_S = 253402300799.0
"""9999-12-31T23:59:59Z: an ``arrival_time`` past it (or before the epoch) is not a time."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of queue output that could not be read: where, what, and why."""

    number: int
    text: str
    reason: str

    def describe(self, source: str) -> str:
        return f"{source} line {self.number} {self.reason}: {excerpt(self.text)}"


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """What a queue held at one moment. ``parts`` has the per-queue counts the MTA reports."""

    total: int
    parts: Mapping[str, int] = field(default_factory=dict)
    oldest_age_s: float | None = None
    bad_lines: tuple[BadLine, ...] = ()
    oldest_ids: tuple[str, ...] = ()
    """The queue ids of the oldest messages, oldest first (at most ``OLDEST_IDS``; Postfix)."""


OLDEST_IDS = 5
"""How many of the oldest messages' queue ids a snapshot names: where to start looking."""


def parse_postqueue_json(text: str, now: float) -> QueueSnapshot:
    """``postqueue -j`` output: one JSON object per message; ages relative to ``now`` (epoch s).

    A line that is not a message object is skipped and reported in ``bad_lines``; the other
    lines are still counted, so the counts are a lower bound when there are bad lines. Never
    raises: JSON nested past the parser's recursion limit, integers too long to read, and
    ``arrival_time`` values that are no instant (NaN, ±Infinity, 1e400, before 1970, after
    9999) are bad lines like any other.
    """
    counts = dict.fromkeys(POSTFIX_QUEUES, 0)
    oldest: float | None = None
    bad: list[BadLine] = []
    aged: list[tuple[float, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except RecursionError:
            bad.append(BadLine(number, line, "is JSON nested too deeply"))
            continue
        except ValueError:
            # Also a number of more than 4,300 digits: int() refuses it with a ValueError.
            bad.append(BadLine(number, line, "is not JSON"))
            continue
        problem = _postfix_message_problem(message)
        if problem:
            bad.append(BadLine(number, line, problem))
            continue
        counts[message["queue_name"]] += 1
        arrival = float(message["arrival_time"])
        oldest = arrival if oldest is None else min(oldest, arrival)
        if isinstance(queue_id := message.get("queue_id"), str):
            aged.append((arrival, queue_id))
    parts = {
        "active": counts["active"],
        "incoming": counts["incoming"] + counts["maildrop"],
        "deferred": counts["deferred"],
        "hold": counts["hold"],
    }
    return QueueSnapshot(
        total=sum(counts.values()),
        parts=parts,
        oldest_age_s=None if oldest is None else max(0.0, now - oldest),
        bad_lines=tuple(bad),
        oldest_ids=tuple(queue_id for _, queue_id in heapq.nsmallest(OLDEST_IDS, aged)),
    )


def _postfix_message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "is not a JSON object"
    if message.get("queue_name") not in POSTFIX_QUEUES:
        return "has no known queue_name"
    arrival = message.get("arrival_time")
    if isinstance(arrival, bool) or not isinstance(arrival, int | float):
        return "has no numeric arrival_time"
    # An int compares exactly (float() of 10**400 would overflow); NaN fails both comparisons.
    if not (0 <= arrival <= LATEST_EPOCH_S):
        return "has an arrival_time that is no instant"
    return None


_EXIM_MESSAGE = re.compile(
    r"^\s*(?:(?P<age>\d+)(?P<unit>[smhd])\s+)?\S+\s+"
    r"(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})(?:\s|$)"
)
_EXIM_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EXIM_AGE_DIGITS = 12
"""Longer ages are not Exim's (it prints at most a few digits); they are counted, not aged."""


def parse_exim_count(text: str) -> int:
    """``exim -bpc``: a single number. ``ValueError`` with the reason otherwise."""
    return parse_count(text, None)


def parse_exim_listing(text: str) -> QueueSnapshot:
    """``exim -bp``: a line per message (age, size, id, sender, ``*** frozen ***``), then its
    recipients indented. Exim rounds ages: minutes up to 90, hours up to 72, then days."""
    total = frozen = 0
    oldest: float | None = None
    for line in text.splitlines():
        found = _EXIM_MESSAGE.match(line)
        if found is None:
            continue  # a recipient, a blank separator, or a spool error note
        total += 1
        if "*** frozen ***" in line:
            frozen += 1
        if found["age"] is not None and len(found["age"]) <= _EXIM_AGE_DIGITS:
            age = float(int(found["age"]) * _EXIM_UNITS[found["unit"]])
            oldest = age if oldest is None else max(oldest, age)
    return QueueSnapshot(total=total, parts={"frozen": frozen}, oldest_age_s=oldest)


def parse_count(text: str, pattern: re.Pattern[str] | None) -> int:
    """A count from a command's output: the pattern's one group, or the whole output."""
    if pattern is not None:
        found = pattern.search(text)
        if found is None:
            raise ValueError(f"no match for {pattern.pattern!r} in {excerpt(text.strip())}")
        number = found.group(1)
    else:
        number = text.strip()
    try:
        value = int(number)
    except (TypeError, ValueError):
        raise ValueError(f"not a whole number: {excerpt(number or '')}") from None
    if value < 0:
        raise ValueError(f"a negative count: {value}")
    return value


def excerpt(text: str) -> str:
    """Output made safe for a summary: quoted, control characters escaped, cut short."""
    shown = repr(text[:SHOWN_CHARS])
    return shown + (f"… ({len(text)} characters)" if len(text) > SHOWN_CHARS else "")


# --- growth ------------------------------------------------------------------------------------


def record_sample(
    samples: Sequence[Sequence[float]], now: float, total: float, window_s: float
) -> list[list[float]]:
    """The samples to keep after one at ``now``: those within ``window_s``, oldest first.

    Samples stamped after ``now`` (a clock set back) are dropped; at most ``MAX_SAMPLES``.
    """
    kept = [[float(t), float(n)] for t, n in samples if now - window_s <= t < now]
    kept.append([now, float(total)])
    return kept[-MAX_SAMPLES:]


def growth_per_min(samples: Sequence[Sequence[float]]) -> float | None:
    """Least-squares slope of (time s, count) samples, in messages per minute.

    A fitted line rather than last-minus-first: every sample counts, so one odd reading at
    either end moves it less. None with fewer than two samples or no time between them.
    """
    if len(samples) < 2:
        return None
    times = [float(t) for t, _ in samples]
    counts = [float(n) for _, n in samples]
    mean_t = sum(times) / len(times)
    mean_n = sum(counts) / len(counts)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (n - mean_n) for t, n in zip(times, counts, strict=True)) / spread
    return slope * 60


# --- verdict -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    state: State
    stage: str
    text: str


_LIMITED = (
    # limit name, stage, what the summary calls it
    ("growth_per_min", QueueStage.QUEUE_GROWTH, "growth"),
    ("deferred", QueueStage.QUEUE_DEFERRED, "deferred"),
    ("total", QueueStage.QUEUE_SIZE, "total"),
    ("hold", QueueStage.QUEUE_HOLD, "hold"),
    ("frozen", QueueStage.QUEUE_FROZEN, "frozen"),
    ("oldest_s", QueueStage.QUEUE_AGE, "oldest"),
)


def judge(
    snapshot: QueueSnapshot,
    growth: float | None,
    limits: Mapping[str, Limits],
    source: str,
) -> list[Finding]:
    """Every limit the queue reaches, and unreadable output, most urgent first.

    ``source`` names the output in a bad-line finding (``postqueue -j``).
    """
    values: dict[str, float | None] = {
        "total": snapshot.total,
        "oldest_s": snapshot.oldest_age_s,
        "growth_per_min": growth,
        **snapshot.parts,
    }
    findings = []
    for name, stage, label in _LIMITED:
        value = values.get(name)
        if value is None or name not in limits:
            continue
        state = classify(value, limits[name])
        if state is not State.OK:
            level = limits[name].critical if state is State.CRITICAL else limits[name].warning
            assert level is not None
            findings.append(Finding(state, stage, f"{label} {_level(name, level)} ({state.label})"))
    if snapshot.bad_lines:
        first = snapshot.bad_lines[0]
        text = first.describe(source)
        if len(snapshot.bad_lines) > 1:
            text += f" (and {len(snapshot.bad_lines) - 1} more unreadable lines)"
        findings.append(
            Finding(State.UNKNOWN, QueueStage.QUEUE_PARSE, text + "; counts leave them out")
        )
    return sorted(findings, key=lambda f: (-f.state.badness, FINDING_ORDER.index(f.stage)))


def _level(name: str, level: float) -> str:
    if name == "oldest_s":
        return format_age(level)
    if name == "growth_per_min":
        return f"{format_rate(level)}/min"
    return f"{level:g}"


def describe(label: str, snapshot: QueueSnapshot, growth: float | None) -> str:
    """``Postfix queue 734 messages (deferred 700, oldest 3 h 12 min), growing 40/min``."""
    if snapshot.total == 0:
        text = f"{label} empty"
    else:
        inside = [f"{part} {snapshot.parts[part]}" for part in PARTS if snapshot.parts.get(part)]
        if snapshot.oldest_age_s is not None:
            inside.append(f"oldest {format_age(snapshot.oldest_age_s)}")
        noun = "message" if snapshot.total == 1 else "messages"
        text = f"{label} {snapshot.total} {noun}"
        if inside:
            text += f" ({', '.join(inside)})"
    if growth is not None and growth > 0 and format_rate(growth) != "0":
        text += f", growing {format_rate(growth)}/min"
    return text


def summary(
    label: str, snapshot: QueueSnapshot, growth: float | None, findings: list[Finding]
) -> str:
    text = describe(label, snapshot, growth)
    limits = [f.text for f in findings if f.stage != QueueStage.QUEUE_PARSE]
    if limits:
        text += f"; limits reached: {', '.join(limits)}"
    text += "".join(f"; {f.text}" for f in findings if f.stage == QueueStage.QUEUE_PARSE)
    return text


def format_rate(per_min: float) -> str:
    """``40``, ``2.5``, ``0.3``: whole numbers from 10 up, one decimal below."""
    if abs(per_min) >= 10:
        return f"{per_min:.0f}"
    return f"{per_min:.1f}".removesuffix(".0")


def format_age(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 12 min``, ``2 d 4 h``: the two largest units, rounded down."""
    return span(max(0.0, seconds), SpanStyle.AGE)
