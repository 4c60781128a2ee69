"""Part 1 (timing accuracy) and the per-process half of part 2 (cost per probe).

Rounds alternate the tools on the same servers: a mailwatch probe (``run_check``, in this
process), then check_email_delivery as shipped, then tuned. Each probe's delivery moment as
the tool reports it (its clock start + its reported delay) is compared with the true one, the
moment the message appeared in the Maildir (``bench.truth``). The plugin's processes give
their CPU and peak memory from ``wait4``; the servers' CPU is read between probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mailwatch.probes.roundtrip as roundtrip_probe
from bench import plugin
from bench.servers import ServerCpu, ServerCpuMeter
from bench.truth import Delivery, MaildirWatch
from harness.mailservers import MailServers
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.results import State
from mailwatch.protocols.smtp import SmtpReceipt
from mailwatch.runner import run_check

MAILWATCH = "mailwatch"
SETTLE_S = 0.5
"""Pause after each probe before reading the servers' CPU: logouts and exits finish."""


@dataclass(frozen=True)
class Sample:
    """One probe of one tool."""

    tool: str
    ok: bool
    note: str
    clock_start: float
    """Unix time the tool's latency clock started (mailwatch: DATA accepted; plugin: spawn)."""
    reported_latency_s: float | None
    truth: Delivery | None
    cpu_s: float
    """The client's CPU for this probe (for mailwatch here: this process's, no start-up)."""
    maxrss_kib: int | None
    wall_s: float
    server_cpu: ServerCpu

    @property
    def true_latency_s(self) -> float | None:
        return None if self.truth is None else self.truth.truth_s - self.clock_start

    @property
    def error_s(self) -> float | None:
        """|reported delivery moment - true delivery moment|."""
        true = self.true_latency_s
        if true is None or self.reported_latency_s is None:
            return None
        return abs(self.reported_latency_s - true)

    def to_dict(self) -> dict[str, Any]:
        truth = self.truth
        return {
            "tool": self.tool,
            "ok": self.ok,
            "note": self.note,
            "clock_start": self.clock_start,
            "reported_latency_s": self.reported_latency_s,
            "true_latency_s": self.true_latency_s,
            "error_s": self.error_s,
            "truth_from": None if truth is None else ("ctime" if truth.ctime_ns else "inotify"),
            "inotify_after_ctime_s": (
                None
                if truth is None or not truth.ctime_ns
                else (truth.event_ns - truth.ctime_ns) / 1e9
            ),
            "cpu_s": self.cpu_s,
            "maxrss_kib": self.maxrss_kib,
            "wall_s": self.wall_s,
            "server_cpu_s": {
                "postfix": self.server_cpu.postfix_s,
                "dovecot": self.server_cpu.dovecot_s,
            },
        }


@contextlib.contextmanager
def accept_times() -> Iterator[list[float]]:
    """Record, as Unix time, when the SMTP server accepted each canary (the probe's clock start).

    The probe keeps that moment as ``time.monotonic()`` inside; the bench wraps the probe's
    ``send_message`` to read it without changing what the probe does.
    """
    recorded: list[float] = []
    original = roundtrip_probe.send_message  # type: ignore[attr-defined]

    async def recording(*args: Any, **kwargs: Any) -> SmtpReceipt:
        receipt = await original(*args, **kwargs)
        recorded.append(time.time() - (time.monotonic() - receipt.accepted_at))
        return receipt

    roundtrip_probe.send_message = recording  # type: ignore[attr-defined]
    try:
        yield recorded
    finally:
        roundtrip_probe.send_message = original  # type: ignore[attr-defined]


class Rounds:
    """Runs probes of both tools one at a time and keeps a ``Sample`` of each."""

    def __init__(
        self,
        servers: MailServers,
        watch: MaildirWatch,
        meter: ServerCpuMeter,
        check: RoundtripCheck,
        plugin_user: str,
        env: dict[str, str],
    ) -> None:
        self.env = env
        self.servers = servers
        self.watch = watch
        self.meter = meter
        self.check = check
        self.plugin_user = plugin_user
        self.memory: dict[str, Any] = {}
        self.samples: list[Sample] = []
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        self._loop.close()

    def mailwatch(self) -> Sample:
        before_server = self.meter.read()
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        with accept_times() as accepted:
            result = self._loop.run_until_complete(run_check(self.check, self.memory))
        wall_s = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        canary = str(result.details.get("canary", ""))
        truth = self.watch.wait_for(canary, 5.0) if canary else None
        time.sleep(SETTLE_S)
        sample = Sample(
            tool=MAILWATCH,
            ok=result.state is State.OK and truth is not None and bool(accepted),
            note=result.summary,
            clock_start=accepted[0] if accepted else 0.0,
            reported_latency_s=result.metrics.get("latency_s"),
            truth=truth,
            cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            maxrss_kib=None,
            wall_s=wall_s,
            server_cpu=self.meter.read() - before_server,
        )
        self.samples.append(sample)
        return sample

    def plugin(self, variant: plugin.Variant) -> Sample:
        before_server = self.meter.read()
        seen = len(self.watch.deliveries(self.plugin_user))
        run = plugin.run(self.servers, self.plugin_user, variant, self.env)
        process = run.process
        # The plugin's message is the one delivery to its mailbox since it started.
        truth: Delivery | None = None
        end = time.monotonic() + 5.0
        while truth is None and time.monotonic() < end:
            new = self.watch.deliveries(self.plugin_user)[seen:]
            truth = new[0] if new else None
            if truth is None:
                time.sleep(0.01)
        time.sleep(SETTLE_S)
        sample = Sample(
            tool=variant.name,
            ok=process.exit_code == 0 and truth is not None and run.delay_s is not None,
            note=process.output.splitlines()[0] if process.output else f"exit {process.exit_code}",
            clock_start=process.started_at,
            reported_latency_s=run.delay_s,
            truth=truth,
            cpu_s=process.cpu_s,
            maxrss_kib=process.maxrss_kib,
            wall_s=process.wall_s,
            server_cpu=self.meter.read() - before_server,
        )
        self.samples.append(sample)
        return sample
