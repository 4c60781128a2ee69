"""Which graphs a check's page draws, per check kind: the figures (result metric keys) each
graph plots, its unit, and the config keys of its warning and critical lines. One table,
``CATALOGUE``; every kind also gets the availability graph (``AVAILABILITY``).

A figure key may hold a ``{placeholder}`` (``disk_{mount}_percent``): each figure of the
check's history that matches is a series, labelled by ``label`` with the placeholder filled
in. A key named exactly by one graph of a kind is not also matched by another's pattern
(``total_messages`` is the queue's size, not a part ``{queue}`` called "total").
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailwatch.domain.kinds import Figure


class Stat(enum.StrEnum):
    """Which number of a bucket a graph draws."""

    MEAN = "mean"
    """The mean of the bucket's values, with its min–max as a band (one series only)."""
    MAX = "max"
    """The bucket's highest value: a count judged per run (listings, errors)."""


@dataclass(frozen=True, slots=True)
class Plot:
    """One series of a graph: the figure key (or pattern) and its label."""

    figure: str
    label: str


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """One graph of a kind. ``warning`` and ``critical`` are attribute paths into the check's
    config (``latency_warning_s``, ``cpu_percent.warning``); a missing or ``"off"`` level
    draws no line."""

    ident: str
    title: str
    unit: str
    plots: tuple[Plot, ...]
    warning: str | None = None
    critical: str | None = None
    stat: Stat = Stat.MEAN

    def level(self, check: object, which: str | None) -> float | None:
        """The level ``which`` names in ``check``'s config, if it is a number."""
        if which is None:
            return None
        value: object = check
        for part in which.split("."):
            value = getattr(value, part, None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None


AVAILABILITY = GraphSpec("availability", "Results ok", "%", (Plot("", "ok"),), stat=Stat.MEAN)
"""Every kind's: the share of results that were ok, per bucket (from the availability
buckets, not a figure)."""


def _one(figure: str, label: str = "") -> tuple[Plot, ...]:
    return (Plot(figure, label),)


CATALOGUE: dict[str, tuple[GraphSpec, ...]] = {
    "roundtrip": (
        GraphSpec(
            "latency",
            "Roundtrip latency",
            "s",
            _one("latency_s", "latency"),
            "latency_warning_s",
            "latency_critical_s",
        ),
        GraphSpec("hops", "Delay per Received hop", "s", _one("hop_{hop}_delay_s", "hop {hop}")),
        GraphSpec("send", "SMTP submission", "s", _one("send_s", "submission")),
    ),
    "queue": (
        GraphSpec(
            "size",
            "Queue size",
            "messages",
            _one("total_messages", "messages"),
            "total_warning",
            "total_critical",
        ),
        GraphSpec("parts", "Queue by part", "messages", _one("{queue}_messages", "{queue}")),
        GraphSpec(
            "oldest",
            "Oldest message age",
            "s",
            _one("oldest_age_s", "oldest message"),
            "oldest_warning_s",
            "oldest_critical_s",
        ),
        GraphSpec(
            "growth",
            "Queue growth",
            "messages/min",
            _one("growth_per_min", "growth"),
            "growth_warning_per_min",
            "growth_critical_per_min",
        ),
    ),
    "resources": (
        GraphSpec(
            "cpu",
            "CPU busy",
            "%",
            _one("cpu_percent", "CPU"),
            "cpu_percent.warning",
            "cpu_percent.critical",
        ),
        GraphSpec(
            "load",
            "Load per core",
            "",
            _one("load_per_core", "load"),
            "load_per_core.warning",
            "load_per_core.critical",
        ),
        GraphSpec(
            "memory",
            "Memory used",
            "%",
            _one("memory_percent", "memory"),
            "memory_percent.warning",
            "memory_percent.critical",
        ),
        GraphSpec(
            "swap",
            "Swap used",
            "%",
            _one("swap_percent", "swap"),
            "swap_percent.warning",
            "swap_percent.critical",
        ),
        GraphSpec(
            "disk",
            "Disk used",
            "%",
            _one("disk_{mount}_percent", "{mount}"),
            "disk_percent.warning",
            "disk_percent.critical",
        ),
        GraphSpec(
            "disk-free",
            "Disk free",
            "B",
            _one("disk_{mount}_free_bytes", "{mount}"),
            "disk_free_bytes.warning",
            "disk_free_bytes.critical",
        ),
        GraphSpec(
            "inodes",
            "Inodes used",
            "%",
            _one("inodes_{mount}_percent", "{mount}"),
            "inodes_percent.warning",
            "inodes_percent.critical",
        ),
        GraphSpec(
            "network",
            "Network traffic",
            "B/s",
            (
                Plot("net_{interface}_rx_bytes_per_s", "{interface} in"),
                Plot("net_{interface}_tx_bytes_per_s", "{interface} out"),
            ),
        ),
        GraphSpec(
            "network-errors",
            "Network errors per run",
            "errors",
            (
                Plot("net_{interface}_errors", "{interface} errors"),
                Plot("net_{interface}_drops", "{interface} drops"),
            ),
            "net_errors.warning",
            "net_errors.critical",
            Stat.MAX,
        ),
    ),
    "tls": (
        GraphSpec(
            "days-left",
            "Certificate days left",
            "days",
            _one("days_left", "days left"),
            "expiry_warning_days",
            "expiry_critical_days",
        ),
        GraphSpec("handshake", "TLS handshake", "s", _one("handshake_s", "handshake")),
    ),
    "dnsbl": (
        GraphSpec(
            "listings",
            "Blocklist listings",
            "listings",
            (Plot("listings", "listings"), Plot("listed_zones", "zones listing")),
            stat=Stat.MAX,
        ),
        GraphSpec("lookup", "Blocklist lookups", "s", _one("lookup_s", "lookup time")),
    ),
    "mx": (
        GraphSpec("connect", "Slowest MX greeting", "s", _one("connect_s", "greeting")),
        GraphSpec("lookup", "MX lookup", "s", _one("lookup_s", "lookup")),
        GraphSpec(
            "hosts",
            "MX hosts",
            "hosts",
            (
                Plot("mx_hosts", "named"),
                Plot("mx_hosts_reachable", "reachable"),
                Plot("mx_hosts_starttls", "STARTTLS"),
            ),
            stat=Stat.MAX,
        ),
    ),
    "service": (
        GraphSpec(
            "response",
            "Response times",
            "s",
            (Plot("connect_s", "connect"), Plot("banner_s", "banner"), Plot("pong_s", "pong")),
        ),
        GraphSpec("processes", "Processes", "processes", _one("process_count", "processes")),
    ),
}
"""The graphs of each kind, in page order (availability comes last)."""


def graphs_for(kind: str) -> tuple[GraphSpec, ...]:
    """The graphs of ``kind``, the availability graph last."""
    return (*CATALOGUE.get(kind, ()), AVAILABILITY)


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """A series to read: the stored figure and its label."""

    figure: str
    label: str


def series_for(spec: GraphSpec, kind: str, figures: Iterable[str]) -> list[SeriesSpec]:
    """The series of ``spec`` among the figures a check has history of, in the order of its
    plots and then of the placeholder's value."""
    known = sorted(set(figures))
    exact = {p.figure for s in CATALOGUE.get(kind, ()) for p in s.plots if "{" not in p.figure}
    found: list[SeriesSpec] = []
    for plot in spec.plots:
        if "{" not in plot.figure:
            if plot.figure in known:
                found.append(SeriesSpec(plot.figure, plot.label))
            continue
        pattern = Figure(plot.figure, None, "")
        matched: list[tuple[str, SeriesSpec]] = []
        for key in known:
            labels = pattern.match(key)
            if labels is None or key in exact:
                continue
            matched.append((key, SeriesSpec(key, plot.label.format(**labels))))
        found.extend(series for _, series in sorted(matched, key=_natural))
    return found


def _natural(item: tuple[str, SeriesSpec]) -> tuple[Sequence[object], str]:
    # hop_2 before hop_10
    key = item[0]
    parts: list[object] = []
    for chunk in _chunks(key):
        parts.append((0, int(chunk)) if chunk.isdigit() else (1, chunk))
    return parts, key


def _chunks(text: str) -> list[str]:
    chunks: list[str] = []
    for char in text:
        if chunks and chunks[-1][-1].isdigit() == char.isdigit():
            chunks[-1] += char
        else:
            chunks.append(char)
    return chunks
