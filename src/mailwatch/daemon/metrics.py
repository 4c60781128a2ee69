"""Prometheus metrics of the daemon, on their own registry (no process-global state).

Every series about a check lives in one ``_CheckSeries``, so a check removed by a reload takes
all its series with it. Each kind's figures become metrics from the kind's declaration
(``CheckKind.exported``): a figure declared there is exported without a line here.
docs/metrics.md lists every metric.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from mailwatch import __version__
from mailwatch.config.checks.registry import KINDS
from mailwatch.domain.kinds import Figure
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket
from mailwatch.incidents.vote import Vote
from mailwatch.status.model import CheckView

log = logging.getLogger("mailwatch.daemon.metrics")

LATENCY_BUCKETS_S = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)

STATES_BY_RANK = sorted(State, key=lambda state: state.badness)
"""``mailwatch_check_state``'s values are ranks, worst highest: ok 0, warning 1, unknown 2,
critical 3 (``State.badness``), so ``max()`` over checks is the worst state."""

LabelValues = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _FigureMetric:
    """One exported figure of one kind: its metric name, labels and declaration."""

    kind: str
    name: str
    figure: Figure

    @property
    def labels(self) -> tuple[str, ...]:
        return ("check", *self.figure.labels)


def figure_metrics() -> tuple[_FigureMetric, ...]:
    """Every kind's exported figures, as metrics: ``mailwatch_<kind>_<name>``."""
    return tuple(
        _FigureMetric(kind.name, f"mailwatch_{kind.name}_{figure.name}", figure)
        for kind in KINDS
        for figure in kind.exported
        if figure.name is not None
    )


@dataclass
class _CheckSeries:
    """Everything exported about one check. Gauges of figures hold the last result's values
    (a figure the last result lacked has no series); counters add up while the check exists."""

    kind: str
    state: State | None = None
    duration_s: float | None = None
    last_success_s: float | None = None
    runs: dict[State, int] = field(default_factory=lambda: dict.fromkeys(State, 0))
    failures: dict[str, int] = field(default_factory=dict)
    missed: int = 0
    gauges: dict[str, dict[LabelValues, float]] = field(default_factory=dict)
    counters: dict[str, dict[LabelValues, float]] = field(default_factory=dict)
    vote: Vote | None = None
    """The sites' last count, for a check with ``run_from``."""
    ran_by: tuple[str, str] | None = None
    """The node and site that ran the check's last result, of the whole cluster."""


class _ChecksCollector(Collector):
    """Builds the per-check families at each scrape from ``_CheckSeries`` records."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        with self._metrics.lock:
            checks = sorted(self._metrics.checks.items())
            yield from _check_families(checks)
            yield from _figure_families(checks, self._metrics.figures)
        build = GaugeMetricFamily(
            "mailwatch_build_info",
            "Always 1; the labels say which mailwatch and Python run",
            labels=["version", "python_version"],
        )
        build.add_metric([__version__, platform.python_version()], 1)
        yield build


def _check_families(checks: list[tuple[str, _CheckSeries]]) -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "mailwatch_check_state",
        "State of each check as the cluster decided it (its last result, whichever node ran "
        "it; the sites' vote for a check with run_from), ranked worst highest: "
        "0 ok, 1 warning, 2 unknown, 3 critical",
        labels=["check", "kind"],
    )
    success = GaugeMetricFamily(
        "mailwatch_check_success",
        "1 when the check's state (as mailwatch_check_state) is ok, else 0",
        labels=["check", "kind"],
    )
    ran_by = GaugeMetricFamily(
        "mailwatch_check_ran_by",
        "Always 1; the labels name the node and site that ran the check's last result",
        labels=["check", "node", "site"],
    )
    duration = GaugeMetricFamily(
        "mailwatch_check_duration_seconds",
        "How long the check's last run took",
        labels=["check", "kind"],
    )
    last_success = GaugeMetricFamily(
        "mailwatch_check_last_success_timestamp_seconds",
        "Unix time of the check's last ok result",
        labels=["check"],
    )
    runs = CounterMetricFamily(
        "mailwatch_check_runs",
        "Runs of each check, by the state they ended in",
        labels=["check", "state"],
    )
    failures = CounterMetricFamily(
        "mailwatch_probe_failures",
        "Check results that were not ok, by failure stage",
        labels=["check", "stage"],
    )
    missed = CounterMetricFamily(
        "mailwatch_missed_runs",
        "Scheduled runs skipped because the previous run of the check was still going",
        labels=["check"],
    )
    for name, series in checks:
        if series.state is not None:
            state.add_metric([name, series.kind], series.state.badness)
            success.add_metric([name, series.kind], int(series.state is State.OK))
        if series.ran_by is not None:
            ran_by.add_metric([name, *series.ran_by], 1)
        if series.duration_s is not None:
            duration.add_metric([name, series.kind], series.duration_s)
        if series.last_success_s is not None:
            last_success.add_metric([name], series.last_success_s)
        for each in STATES_BY_RANK:
            runs.add_metric([name, each.label], series.runs[each])
        for stage, count in sorted(series.failures.items()):
            failures.add_metric([name, stage], count)
        missed.add_metric([name], series.missed)
    yield from (state, success, ran_by, duration, last_success, runs, failures, missed)
    yield from _vote_families(checks)


def _vote_families(checks: list[tuple[str, _CheckSeries]]) -> Iterator[Metric]:
    """The sites' vote on each check with ``run_from`` (docs/cluster.md)."""
    failing = GaugeMetricFamily(
        "mailwatch_check_sites_failing",
        "Sites whose current result of the check fails (checks with run_from)",
        labels=["check"],
    )
    quorum = GaugeMetricFamily(
        "mailwatch_check_quorum",
        "Sites that must fail before the check opens a ticket (checks with run_from)",
        labels=["check"],
    )
    below = GaugeMetricFamily(
        "mailwatch_check_below_quorum",
        "1 while some sites fail the check but fewer than its quorum: shown, nobody paged",
        labels=["check"],
    )
    site_state = GaugeMetricFamily(
        "mailwatch_check_site_state",
        "State of each site's current result, ranked as mailwatch_check_state "
        "(checks with run_from; a site without a current result has no series)",
        labels=["check", "site"],
    )
    for name, series in checks:
        vote = series.vote
        if vote is None:
            continue
        failing.add_metric([name], len(vote.failing))
        quorum.add_metric([name], vote.quorum)
        below.add_metric([name], int(vote.below_quorum))
        for site in vote.current:
            site_state.add_metric([name, site.site], site.state.badness)
    yield from (failing, quorum, below, site_state)


def _figure_families(
    checks: list[tuple[str, _CheckSeries]], figures: tuple[_FigureMetric, ...]
) -> Iterator[Metric]:
    for metric in figures:
        family: GaugeMetricFamily | CounterMetricFamily
        if metric.figure.counter:
            family = CounterMetricFamily(metric.name, metric.figure.help, labels=metric.labels)
        else:
            family = GaugeMetricFamily(metric.name, metric.figure.help, labels=metric.labels)
        for name, series in checks:
            if series.kind != metric.kind:
                continue
            values = (series.counters if metric.figure.counter else series.gauges).get(
                metric.name, {}
            )
            for labels, value in sorted(values.items()):
                family.add_metric([name, *labels], value)
        yield family


def metrics_url(host: str, port: int) -> str:
    """Where the endpoint is, for the log: ``http://[::1]:9187/metrics``, ``http://*:9187/...``."""
    shown = "*" if not host else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/metrics"


class DaemonMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lock = threading.Lock()
        self.checks: dict[str, _CheckSeries] = {}
        self.figures = figure_metrics()
        # A key is matched against the kind's exact keys first: ``total_messages`` is
        # ``mailwatch_queue_messages``, not the ``{queue}_messages`` of a part called "total".
        self._by_kind: dict[str, tuple[_FigureMetric, ...]] = {
            kind.name: tuple(
                sorted(
                    (m for m in self.figures if m.kind == kind.name),
                    key=lambda m: bool(m.figure.labels),
                )
            )
            for kind in KINDS
        }
        self.registry.register(_ChecksCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.roundtrip_latency = Histogram(
            "mailwatch_roundtrip_latency_seconds",
            "Canary latency from the SMTP server's DATA reply to the IMAP server reporting it",
            ["check"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.open_tickets = Gauge(
            "mailwatch_open_tickets",
            "Open tickets by severity",
            ["severity"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "mailwatch_outbox_backlog",
            "Notifications waiting in the outbox (pending or retrying)",
            registry=self.registry,
        )
        for severity in (1, 2, 3, 4):
            self.open_tickets.labels(severity=str(severity)).set(0)
        self._server: Any = None

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port``; an empty host is every interface, IPv6 and
        IPv4 where the host has IPv6, IPv4 alone where it has not."""
        if host:
            self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
            return
        try:
            self._server, _thread = start_http_server(port, addr="::", registry=self.registry)
        except OSError as exc:
            log.debug("no IPv6 for the metrics endpoint (%s): IPv4 only", exc)
            self._server, _thread = start_http_server(port, addr="0.0.0.0", registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def track(self, checks: Iterable[tuple[str, str]]) -> None:
        """The checks (name, kind) the daemon runs now: new ones start with zeroed counters,
        removed ones lose every series, and a check whose kind changed starts afresh."""
        wanted = dict(checks)
        with self.lock:
            for name in list(self.checks):
                if wanted.get(name) != self.checks[name].kind:
                    del self.checks[name]
                    self._forget_latency(name)
            for name, kind in wanted.items():
                self.checks.setdefault(name, _CheckSeries(kind))

    def _forget_latency(self, check: str) -> None:
        with contextlib.suppress(KeyError):
            self.roundtrip_latency.remove(check)

    def record(self, result: CheckResult) -> None:
        with self.lock:
            series = self.checks.get(result.check)
            if series is None or series.kind != result.kind:
                return  # removed (or replaced) by a reload while it ran
            series.state = result.state
            series.duration_s = result.duration_s
            series.runs[result.state] += 1
            if result.state is State.OK:
                series.last_success_s = result.finished_at.timestamp()
            else:
                stage = result.stage or "none"
                series.failures[stage] = series.failures.get(stage, 0) + 1
            self._record_figures(series, result)
        latency = result.metrics.get("latency_s")
        if result.kind == "roundtrip" and latency is not None:
            self.roundtrip_latency.labels(check=result.check).observe(latency)

    def _record_figures(self, series: _CheckSeries, result: CheckResult) -> None:
        series.gauges = {}
        for key, value in result.metrics.items():
            for metric in self._by_kind.get(result.kind, ()):
                found = metric.figure.match(key)
                if found is None:
                    continue
                labels = tuple(found[label] for label in metric.figure.labels)
                if metric.figure.counter:
                    counts = series.counters.setdefault(metric.name, {})
                    counts[labels] = counts.get(labels, 0.0) + max(0.0, value)
                else:
                    series.gauges.setdefault(metric.name, {})[labels] = value
                break

    def set_votes(self, votes: Mapping[str, Vote]) -> None:
        """The latest count of each check with ``run_from`` (the others have none)."""
        with self.lock:
            for name, series in self.checks.items():
                series.vote = votes.get(name)

    def set_cluster_view(self, checks: Iterable[CheckView]) -> None:
        """The checks as the status shows them, whichever node ran them: their decided state,
        last ok, key figures and who ran the last result. The counters (runs, failures,
        missed runs, latencies) and the duration stay this node's own runs."""
        with self.lock:
            for view in checks:
                series = self.checks.get(view.name)
                if series is None or series.kind != view.kind or view.last_run_at is None:
                    continue
                series.state = view.state
                if view.last_ok_at is not None:
                    series.last_success_s = max(
                        series.last_success_s or 0.0, view.last_ok_at.timestamp()
                    )
                if view.node is not None:
                    series.ran_by = (view.node, view.site or "")
                gauges: dict[str, dict[LabelValues, float]] = {}
                for key, value in view.metrics.items():
                    for metric in self._by_kind.get(view.kind, ()):
                        found = metric.figure.match(key)
                        if found is None:
                            continue
                        if not metric.figure.counter:
                            labels = tuple(found[label] for label in metric.figure.labels)
                            gauges.setdefault(metric.name, {})[labels] = value
                        break
                series.gauges = gauges

    def missed_run(self, check: str) -> None:
        with self.lock:
            if (series := self.checks.get(check)) is not None:
                series.missed += 1

    def set_tickets(self, tickets: Iterable[Ticket]) -> None:
        counts = {severity: 0 for severity in (1, 2, 3, 4)}
        for ticket in tickets:
            counts[ticket.severity] = counts.get(ticket.severity, 0) + 1
        for severity, count in counts.items():
            self.open_tickets.labels(severity=str(severity)).set(count)
