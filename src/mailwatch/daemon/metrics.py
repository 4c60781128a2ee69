"""Prometheus metrics of the daemon, on their own registry (no process-global state)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket

LATENCY_BUCKETS_S = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class DaemonMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.check_state = Gauge(
            "mailwatch_check_state",
            "Current state of each check: 0 ok, 1 warning, 2 critical, 3 unknown",
            ["check", "kind"],
            registry=self.registry,
        )
        self.roundtrip_latency = Histogram(
            "mailwatch_roundtrip_latency_seconds",
            "Canary latency from the SMTP server's DATA reply to the IMAP server reporting it",
            ["check"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "mailwatch_check_last_success_timestamp_seconds",
            "Unix time of the check's last ok result",
            ["check"],
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
        self.probe_failures = Counter(
            "mailwatch_probe_failures_total",
            "Check results that were not ok, by failure stage",
            ["check", "stage"],
            registry=self.registry,
        )
        self.missed_runs = Counter(
            "mailwatch_missed_runs_total",
            "Scheduled runs skipped because the previous run of the check was still going",
            ["check"],
            registry=self.registry,
        )
        for severity in (1, 2, 3, 4):
            self.open_tickets.labels(severity=str(severity)).set(0)
        self._server: Any = None

    def serve(self, host: str, port: int) -> None:
        self._server, _thread = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, result: CheckResult) -> None:
        self.check_state.labels(check=result.check, kind=result.kind).set(int(result.state))
        if result.state is State.OK:
            self.last_success.labels(check=result.check).set(result.finished_at.timestamp())
        else:
            self.probe_failures.labels(check=result.check, stage=result.stage or "none").inc()
        latency = result.metrics.get("latency_s")
        if result.kind == "roundtrip" and latency is not None:
            self.roundtrip_latency.labels(check=result.check).observe(latency)

    def forget(self, check: str, kind: str) -> None:
        """A check removed by a reload stops being reported."""
        for gauge, labels in ((self.check_state, (check, kind)), (self.last_success, (check,))):
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)

    def set_tickets(self, tickets: Iterable[Ticket]) -> None:
        counts = {severity: 0 for severity in (1, 2, 3, 4)}
        for ticket in tickets:
            counts[ticket.severity] = counts.get(ticket.severity, 0) + 1
        for severity, count in counts.items():
            self.open_tickets.labels(severity=str(severity)).set(count)
