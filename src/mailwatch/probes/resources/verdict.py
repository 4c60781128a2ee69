"""The verdict on a host's resource figures: readings and limits in, state, stage and summary out.

Pure: no psutil, no clock. ``mailwatch.probes.resources`` samples the machine and calls
``evaluate``; tests feed it made-up readings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mailwatch.config.checks.levels import Limits, classify
from mailwatch.config.checks.resources import LOWER_IS_WORSE, ResourcesStage, metric_slug
from mailwatch.domain.results import State

FAMILIES = (
    ResourcesStage.DISK,
    ResourcesStage.INODES,
    ResourcesStage.DISK_FREE,
    ResourcesStage.MEMORY,
    ResourcesStage.SWAP,
    ResourcesStage.LOAD,
    ResourcesStage.CPU,
    ResourcesStage.NET_ERRORS,
    ResourcesStage.NET_DROPS,
)
"""Every kind of reading, most urgent first: a full spool stops mail, a busy CPU only slows it.

A reading's family is also the result's stage when that reading is the worst offender.
Between two findings of the same state, the family earlier in this list is named first.
"""


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured figure: ``family`` says what it is, ``subject`` which mount or interface."""

    family: str
    value: float
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """Something that is not ok: a reading over a limit, or a thing that could not be measured."""

    state: State
    stage: str
    text: str
    rank: int = len(FAMILIES)
    """Position of the family in ``FAMILIES``: between equal states, the lower is named first."""
    weight: float = 0.0
    """Within one family and state, the higher is named first (the fuller disk)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    stage: str | None
    summary: str
    findings: tuple[Finding, ...]


def describe(reading: Reading) -> str:
    """The words for one reading, as the summary shows them: ``/var/spool 96% full``."""
    value, subject = reading.value, reading.subject
    match reading.family:
        case ResourcesStage.DISK:
            return f"{subject} {_percent(value)} full"
        case ResourcesStage.INODES:
            return f"{subject} {_percent(value)} of inodes used"
        case ResourcesStage.DISK_FREE:
            return f"{subject} {human_bytes(value)} free"
        case ResourcesStage.MEMORY:
            return f"memory {_percent(value)} used"
        case ResourcesStage.SWAP:
            return f"swap {_percent(value)} used"
        case ResourcesStage.LOAD:
            return f"load {value:.2f} per core"
        case ResourcesStage.CPU:
            return f"cpu {_percent(value)} busy"
        case ResourcesStage.NET_ERRORS:
            return f"{subject} {_count(value, 'new network error')}"
        case ResourcesStage.NET_DROPS:
            return f"{subject} {_count(value, 'new dropped packet')}"
    raise ValueError(f"unknown reading family {reading.family!r}")


def evaluate(
    readings: Iterable[Reading],
    limits: Mapping[str, Limits],
    problems: Iterable[Finding] = (),
) -> Verdict:
    """Judge readings against per-family limits; ``problems`` are findings made elsewhere
    (a configured mount that is missing). A family without limits never alarms."""
    readings = list(readings)
    findings = list(problems)
    for reading in readings:
        lower_is_worse = reading.family in LOWER_IS_WORSE
        state = classify(reading.value, limits.get(reading.family, Limits()), lower_is_worse)
        if state is not State.OK:
            findings.append(
                Finding(
                    state,
                    reading.family,
                    describe(reading),
                    FAMILIES.index(reading.family),
                    -reading.value if lower_is_worse else reading.value,
                )
            )
    ordered = tuple(sorted(findings, key=lambda f: (-f.state.badness, f.rank, -f.weight)))
    if not ordered:
        return Verdict(State.OK, None, _all_within(readings), ())
    first = ordered[0]
    summary = first.text
    if len(ordered) > 1:
        others = len(ordered) - 1
        summary += f"; {others} other problem{'s' if others > 1 else ''}"
    return Verdict(first.state, first.stage, summary, ordered)


def _all_within(readings: Sequence[Reading]) -> str:
    """The ok summary: the host-wide figures and the fullest mount."""
    shown = [
        describe(r)
        for r in readings
        if r.family
        in {ResourcesStage.CPU, ResourcesStage.LOAD, ResourcesStage.MEMORY, ResourcesStage.SWAP}
    ]
    disks = [r for r in readings if r.family == ResourcesStage.DISK]
    if disks:
        fullest = max(disks, key=lambda r: r.value)
        shown.append(("fullest " if len(disks) > 1 else "") + describe(fullest))
    return "within limits: " + ", ".join(shown) if shown else "within limits"


def _percent(value: float) -> str:
    # Rounded down, so the words never claim a level the state did not reach:
    # 94.6 % with critical = 95 reads "94%", not "95%".
    return f"{math.floor(value)}%"


def _count(value: float, noun: str) -> str:
    n = int(value)
    return f"{n} {noun}{'' if n == 1 else 's'}"


def human_bytes(value: float) -> str:
    """``812.0 MiB``: binary units, one decimal."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def metric_slugs(names: Iterable[str]) -> dict[str, str]:
    """Slugs for several names, made unique: ``br-lan`` and ``br.lan`` become ``br_lan`` and
    ``br_lan_2`` (in sorted order), so no figure overwrites another's."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        base = slug = metric_slug(name)
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}_{n}"
        taken.add(slug)
        out[name] = slug
    return out
