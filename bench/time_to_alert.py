"""Time to alert: break mail flow three ways under a running daemon and time the notices.

A real ``mailwatch run`` (30 s interval) watches a round trip on the harness's Postfix and
Dovecot and posts its alerts to a loopback HTTP receiver. Each break (Postfix stopped, delivery
held while SMTP accepts, Dovecot stopped) is timed from the break to the alert's arrival, and
from the repair to the recovery notice's. Alongside, check_email_delivery runs every interval
as Nagios would run it; its first non-OK and first OK exits are timed the same way. Then a soak
of the healthy system, which must raise no ticket.

    .venv/bin/python -m bench.time_to_alert [--interval 30] [--soak-minutes 15]
        [--breaks postfix,held,dovecot] [--fixed-deadline]

``held-fixed`` is one more break: delivery held under ``learn_deadline = false``, the fixed
two-minute wait. Each break gets a fresh daemon (a clean history, so no flapping from the
previous break), the soak one more. Needs root (the harness); waits while another run holds
the harness. Writes ``bench/results/time_to_alert.json``; see docs/time-to-alert.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))  # the harness, daemon and receiver the tests use

from harness.mailservers import MailServers  # noqa: E402
from helpers.daemon import DaemonProcess  # noqa: E402
from helpers.http_receiver import HttpReceiver, ReceivedRequest  # noqa: E402
from helpers.roundtrip_config import roundtrip_toml  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PLUGIN = Path("/usr/lib/nagios/plugins/check_email_delivery")
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CHECK = "flow"
MAILWATCH_USER = "tta-mailwatch"
PLUGIN_USER = "tta-plugin"
NAGIOS_MAX_CHECK_ATTEMPTS = 3
"""Nagios's sample ``generic-service`` template: a HARD state (and a notification) after the
third non-OK result in a row; rechecks every ``retry_interval``, here equal to the interval."""

T = TypeVar("T")


@dataclass(frozen=True)
class Break:
    name: str
    stage: str
    do: Callable[[MailServers], None]
    undo: Callable[[MailServers], None]
    fixed_deadline: bool = False
    """Measured with ``learn_deadline = false``: the behaviour before the deadline was learned."""


BREAKS = {
    "postfix": Break("postfix stopped", "smtp_connect", MailServers.stop_postfix,
                     MailServers.start_postfix),
    "held": Break("delivery held (SMTP accepts)", "not_delivered", MailServers.hold_delivery,
                  MailServers.release_delivery),
    "held-fixed": Break("delivery held, fixed deadline_s", "not_delivered",
                        MailServers.hold_delivery, MailServers.release_delivery, True),
    "dovecot": Break("dovecot stopped", "imap_connect", MailServers.stop_dovecot,
                     MailServers.start_dovecot),
}  # fmt: skip


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def poll(what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 0.2) -> T:
    """``probe()`` once it is truthy; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {what} within {timeout_s:g} s")
        time.sleep(every_s)


# ------------------------------------------------------------------------------ the receiver


@dataclass(frozen=True)
class Arrival:
    at: float
    """``time.monotonic()`` in the receiver's handler thread when the POST was read."""
    path: str
    title: str


class StampedReceiver(HttpReceiver):
    """The tests' HTTP receiver, stamping each request with its arrival time."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []

    def _record(self, request: ReceivedRequest) -> int:
        at = time.monotonic()
        try:
            title = str(request.json().get("title", ""))
        except (ValueError, AttributeError):
            title = ""
        self.arrivals.append(Arrival(at, request.path, title))
        return super()._record(request)

    def __enter__(self) -> StampedReceiver:
        super().__enter__()
        return self

    def after(self, since: float) -> list[Arrival]:
        return [a for a in list(self.arrivals) if a.at >= since]


# ----------------------------------------------------------------------- the daemon's results


@dataclass(frozen=True)
class Observed:
    at: float
    """``time.monotonic()`` when the status file first showed the result."""
    state: str
    stage: str | None
    summary: str
    metrics: dict[str, float]


class StatusWatch:
    """Reads the daemon's status file every 0.5 s and keeps each new result of the check."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.results: list[Observed] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-watch", daemon=True)

    def start(self) -> StatusWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last: Any = None
        while not self._stop.wait(0.5):
            check = self.daemon.check_status(CHECK)
            if not check or check.get("last_run_at") in (None, last):
                continue
            last = check["last_run_at"]
            self.results.append(
                Observed(
                    time.monotonic(),
                    str(check["state"]),
                    check.get("stage"),
                    str(check.get("summary", "")),
                    dict(check.get("metrics") or {}),
                )
            )

    def latest(self) -> Observed | None:
        return self.results[-1] if self.results else None


# ------------------------------------------------------------------------ the plugin, looped


@dataclass(frozen=True)
class PluginRun:
    started: float
    ended: float
    exit_code: int
    output: str


class PluginLoop:
    """check_email_delivery every ``interval_s``, as Nagios schedules an active check.

    A run still going at its next slot delays that run to the slot after it ends (Nagios does
    not run one service check twice at once).
    """

    def __init__(self, argv: list[str], env: dict[str, str], interval_s: float) -> None:
        self.argv, self.env, self.interval_s = argv, env, interval_s
        self.runs: list[PluginRun] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plugin-loop", daemon=True)

    def start(self) -> PluginLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        origin = time.monotonic()
        slot = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    self.argv, env=self.env, capture_output=True, text=True, check=False,
                    timeout=600,
                )  # fmt: skip
                exit_code, output = proc.returncode, (proc.stdout + proc.stderr).strip()
            except subprocess.TimeoutExpired:
                exit_code, output = 3, "killed after 600 s"
            self.runs.append(PluginRun(started, time.monotonic(), exit_code, output))
            ended = self.runs[-1].ended
            slot = max(slot + 1, int((ended - origin) / self.interval_s) + 1)
            self._stop.wait(max(0.0, origin + slot * self.interval_s - time.monotonic()))

    def ended_after(self, since: float) -> list[PluginRun]:
        return [r for r in list(self.runs) if r.ended >= since]


def plugin_command(servers: MailServers) -> list[str]:
    """As bench/plugin.py runs it as shipped: submission with STARTTLS and AUTH, IMAPS, the
    plugin's own defaults otherwise (wait 5 s, search every 5 s, 60 s timeout per plugin)."""
    address = servers.address(PLUGIN_USER)
    return [
        str(PLUGIN),
        "-H", "127.0.0.1",
        "--smtp-port", str(servers.submission_port), "--smtptls",
        "--imap-port", str(servers.imaps_port), "--imapssl",
        "--mailto", address, "--mailfrom", "bench@example.test",
        "--username", address, "--password", servers.password,
    ]  # fmt: skip


# --------------------------------------------------------------------------------- the config


def daemon_config(
    servers: MailServers,
    state_dir: Path,
    receiver: HttpReceiver,
    args: argparse.Namespace,
    learn: bool = True,
) -> str:
    check: dict[str, str | int | float | bool] = {"interval_s": args.interval}
    if args.fixed_deadline or not learn:
        check["learn_deadline"] = False
    roundtrip = roundtrip_toml(
        servers,
        CHECK,
        user=servers.address(MAILWATCH_USER),
        deadline_s=args.deadline_s,
        check=check,
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0

[incidents]
open_after = {args.open_after}
resolve_after = {args.resolve_after}

[outbox]
group_wait_s = {args.group_wait_s:g}

[routes.team]
urls = ["{receiver.url("/team")}"]
{roundtrip}"""


# ------------------------------------------------------------------------------ measurements


@dataclass
class BreakFigures:
    name: str
    expected_stage: str
    break_call_s: float = 0.0
    repair_call_s: float = 0.0
    deadline_before_s: float | None = None
    alert_s: float | None = None
    alert_title: str | None = None
    recovery_s: float | None = None
    recovery_title: str | None = None
    ticket: str | None = None
    severity: int | None = None
    stage: str | None = None
    daemon_results: list[dict[str, Any]] = field(default_factory=list)
    plugin_non_ok_s: float | None = None
    plugin_hard_s: float | None = None
    plugin_first_non_ok: str | None = None
    plugin_ok_s: float | None = None
    plugin_runs: list[dict[str, Any]] = field(default_factory=list)
    daemon_log: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def open_tickets(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [t for t in daemon.tickets() if t["status"] != "resolved"]


def wait_healthy(
    daemon: DaemonProcess, watch: StatusWatch, plugin: PluginLoop | None, since: float, bound: float
) -> None:
    """A fresh ok result after ``since``, no open ticket, and the plugin's last exit OK."""

    def healthy() -> bool:
        latest = watch.latest()
        if latest is None or latest.at < since or latest.state != "ok":
            return False
        if plugin is not None:
            runs = plugin.ended_after(since)
            if not runs or runs[-1].exit_code != 0:
                return False
        return not open_tickets(daemon)

    poll("healthy daemon and plugin", healthy, bound, every_s=1.0)


def measure_break(
    key: str,
    servers: MailServers,
    daemon: DaemonProcess,
    receiver: StampedReceiver,
    watch: StatusWatch,
    plugin: PluginLoop | None,
    args: argparse.Namespace,
) -> BreakFigures:
    spec = BREAKS[key]
    figures = BreakFigures(spec.name, spec.stage)
    bound = args.bound_s
    wait_healthy(daemon, watch, plugin, time.monotonic() - args.interval, bound)
    latest = watch.latest()
    figures.deadline_before_s = latest.metrics.get("deadline_s") if latest else None
    log(f"{spec.name}: breaking (deadline in force {figures.deadline_before_s} s)")
    started = time.monotonic()
    spec.do(servers)
    broken_at = time.monotonic()
    figures.break_call_s = round(broken_at - started, 3)

    def alert() -> Arrival | None:
        return next((a for a in receiver.after(broken_at) if a.path == "/team"), None)

    def plugin_verdict(since: float, ok: bool) -> PluginRun | None:
        if plugin is None:
            return None
        return next((r for r in plugin.ended_after(since) if (r.exit_code == 0) == ok), None)

    try:
        arrival = poll("alert", alert, bound)
        figures.alert_s = round(arrival.at - broken_at, 2)
        figures.alert_title = arrival.title
        log(f"{spec.name}: alert after {figures.alert_s} s: {arrival.title}")
        tickets = poll("open ticket", lambda: open_tickets(daemon), 30)
        if len(tickets) > 1:
            figures.notes.append(f"{len(tickets)} tickets open: {tickets}")
        ticket = tickets[0]
        figures.ticket, figures.severity = ticket["ticket"], ticket["severity"]
        figures.stage = ticket["last_stage"]
    except TimeoutError as exc:
        figures.notes.append(str(exc))
        log(f"{spec.name}: {exc}")
    if plugin is not None:
        try:
            poll("plugin non-OK", lambda: plugin_verdict(broken_at, ok=False), bound)
        except TimeoutError as exc:
            figures.notes.append(str(exc))
    log(f"{spec.name}: repairing")
    started = time.monotonic()
    spec.undo(servers)
    repaired_at = time.monotonic()
    figures.repair_call_s = round(repaired_at - started, 3)

    def recovery() -> Arrival | None:
        return next(
            (a for a in receiver.after(repaired_at) if a.title.endswith(": recovered")), None
        )

    try:
        arrival = poll("recovery notice", recovery, bound)
        figures.recovery_s = round(arrival.at - repaired_at, 2)
        figures.recovery_title = arrival.title
        log(f"{spec.name}: recovery after {figures.recovery_s} s: {arrival.title}")
    except TimeoutError as exc:
        figures.notes.append(str(exc))
        log(f"{spec.name}: {exc}")
    if plugin is not None:
        try:
            poll("plugin OK", lambda: plugin_verdict(repaired_at, ok=True), bound)
        except TimeoutError as exc:
            figures.notes.append(str(exc))
        runs = plugin.ended_after(broken_at)
        bad = [r for r in runs if r.ended < repaired_at and r.exit_code != 0]
        if bad:
            figures.plugin_non_ok_s = round(bad[0].ended - broken_at, 2)
            figures.plugin_first_non_ok = bad[0].output[:160]
        hard = hard_state_at(runs, broken_at, repaired_at)
        figures.plugin_hard_s = None if hard is None else round(hard - broken_at, 2)
        first_ok = plugin_verdict(repaired_at, ok=True)
        if first_ok is not None:
            figures.plugin_ok_s = round(first_ok.ended - repaired_at, 2)
        figures.plugin_runs = [
            {
                "started_s": round(r.started - broken_at, 2),
                "ended_s": round(r.ended - broken_at, 2),
                "exit": r.exit_code,
                "output": r.output[:200],
            }
            for r in runs
        ]
    figures.daemon_results = [
        {
            "at_s": round(o.at - broken_at, 2),
            "state": o.state,
            "stage": o.stage,
            "summary": o.summary[:200],
            "metrics": o.metrics,
        }
        for o in watch.results
        if broken_at - args.interval <= o.at
    ]
    return figures


def hard_state_at(runs: list[PluginRun], broken_at: float, repaired_at: float) -> float | None:
    """When Nagios (max_check_attempts 3) would notify: the end of the third non-OK run in a
    row after the break, before the repair."""
    streak = 0
    for run in runs:
        if run.ended < broken_at:
            continue
        if run.ended > repaired_at:
            return None
        streak = streak + 1 if run.exit_code != 0 else 0
        if streak == NAGIOS_MAX_CHECK_ATTEMPTS:
            return run.ended
    return None


def soak(
    daemon: DaemonProcess,
    receiver: StampedReceiver,
    watch: StatusWatch,
    plugin: PluginLoop | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    wait_healthy(daemon, watch, plugin, time.monotonic() - args.interval, args.bound_s)
    tickets_before = {t["ticket"] for t in daemon.tickets()}
    started = time.monotonic()
    log(f"soak: {args.soak_minutes:g} min of a healthy system")
    end = started + args.soak_minutes * 60
    while time.monotonic() < end:
        # A duration, not an event: the daemon is watched by StatusWatch meanwhile.
        time.sleep(min(5.0, max(0.0, end - time.monotonic())))
    ended = time.monotonic()
    results = [o for o in watch.results if started <= o.at <= ended]
    new_tickets = [t for t in daemon.tickets() if t["ticket"] not in tickets_before]
    latencies = [o.metrics["latency_s"] for o in results if "latency_s" in o.metrics]
    deadlines = [o.metrics["deadline_s"] for o in results if "deadline_s" in o.metrics]
    plugin_runs = [r for r in plugin.runs if started <= r.ended <= ended] if plugin else []
    return {
        "minutes": round((ended - started) / 60, 2),
        "daemon_results": len(results),
        "daemon_non_ok": [
            {"state": o.state, "stage": o.stage, "summary": o.summary[:200]}
            for o in results
            if o.state != "ok"
        ],
        "latency_s_max": max(latencies, default=None),
        "deadline_s_range": [min(deadlines), max(deadlines)] if deadlines else None,
        "tickets_opened": new_tickets,
        "notices": [asdict(a) for a in receiver.after(started) if a.at <= ended],
        "plugin_runs": len(plugin_runs),
        "plugin_non_ok": [r.output[:200] for r in plugin_runs if r.exit_code != 0],
    }


# ------------------------------------------------------------------------------------ output


def table(figures: dict[str, Any]) -> str:
    def s(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}"

    lines = [
        "| break | mailwatch break → alert (s) | repair → recovery (s) | ticket | "
        "check_email_delivery break → first non-OK (s) | repair → first OK (s) |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for b in figures["breaks"]:
        ticket = f"SEV{b['severity']} `{b['stage']}`" if b["ticket"] else "none"
        lines.append(
            f"| {b['name']} | {s(b['alert_s'])} | {s(b['recovery_s'])} | {ticket} | "
            f"{s(b['plugin_non_ok_s'])} | {s(b['plugin_ok_s'])} |"
        )
    soaked = figures.get("soak")
    if soaked:
        lines += [
            "",
            f"soak: {soaked['minutes']:g} min, {soaked['daemon_results']} round trips, "
            f"{len(soaked['daemon_non_ok'])} non-ok, {len(soaked['tickets_opened'])} tickets, "
            f"{len(soaked['notices'])} notices; slowest latency {soaked['latency_s_max']} s, "
            f"deadline {soaked['deadline_s_range']} s; check_email_delivery "
            f"{soaked['plugin_runs']} runs, {len(soaked['plugin_non_ok'])} non-OK",
        ]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def trust_env(servers: MailServers, work: Path) -> dict[str, str]:
    """The plugin's environment: the system CA bundle plus the harness CA (``SSL_CERT_FILE``)."""
    bundle = work / "ca-bundle.pem"
    system = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.exists() else ""
    bundle.write_text(system.rstrip("\n") + "\n" + servers.ca_file.read_text())
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "SSL_CERT_FILE": str(bundle),
    }


# -------------------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.time_to_alert", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--interval", type=float, default=30.0, help="check interval, s (30)")
    parser.add_argument("--soak-minutes", type=float, default=15.0, help="0: no soak (15)")
    parser.add_argument(
        "--breaks", default="postfix,held,dovecot", help=f"in this order, of {', '.join(BREAKS)}"
    )
    parser.add_argument("--deadline-s", type=float, default=120.0, help="deadline_s (120)")
    parser.add_argument(
        "--fixed-deadline", action="store_true", help="learn_deadline = false: wait deadline_s"
    )
    parser.add_argument("--open-after", type=int, default=2, help="[incidents] open_after (2)")
    parser.add_argument("--resolve-after", type=int, default=2, help="resolve_after (2)")
    parser.add_argument("--group-wait-s", type=float, default=30.0, help="[outbox] (30)")
    parser.add_argument("--no-plugin", action="store_true", help="skip check_email_delivery")
    parser.add_argument(
        "--bound-s", type=float, default=900.0, help="longest wait for any one event (900)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "time_to_alert.json")
    args = parser.parse_args(argv)
    args.breaks = [b.strip() for b in args.breaks.split(",") if b.strip()]
    unknown = [b for b in args.breaks if b not in BREAKS]
    if unknown:
        parser.error(f"unknown break(s) {', '.join(unknown)}; known: {', '.join(BREAKS)}")
    return args


class Watched:
    """A fresh ``mailwatch run`` with its own state directory, and a watch on its status file."""

    def __init__(
        self,
        servers: MailServers,
        work: Path,
        receiver: HttpReceiver,
        args: argparse.Namespace,
        learn: bool,
    ) -> None:
        work.mkdir(parents=True)
        config = daemon_config(servers, work / "state", receiver, args, learn)
        self.daemon = DaemonProcess(work, config, {"MW_TEST_PASSWORD": servers.password})
        self.watch = StatusWatch(self.daemon)

    def __enter__(self) -> tuple[DaemonProcess, StatusWatch]:
        self.daemon.start()
        self.watch.start()
        return self.daemon, self.watch

    def __exit__(self, *exc: object) -> None:
        self.watch.stop()
        self.daemon.stop()


def daemon_log_counts(daemon: DaemonProcess) -> dict[str, int]:
    text = daemon.stderr
    return {
        "missed_runs": text.count("missed its schedule"),
        "flapping_started": text.count("flapping_started"),
    }


def learned(watch: StatusWatch, args: argparse.Namespace) -> bool:
    """The daemon's last result waited less than ``deadline_s``: it learned its deadline."""
    latest = watch.latest()
    waited = None if latest is None else latest.metrics.get("deadline_s")
    return waited is not None and waited < args.deadline_s


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("time_to_alert: the mail server harness needs root", file=sys.stderr)
        return 2
    use_plugin = not args.no_plugin and PLUGIN.exists()
    if not args.no_plugin and not use_plugin:
        log(f"{PLUGIN} missing (bench/run installs it): mailwatch only")
    figures: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "bench.time_to_alert", *argv]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "interval_s": args.interval,
            "deadline_s": args.deadline_s,
            "learn_deadline": not args.fixed_deadline,
            "open_after": args.open_after,
            "resolve_after": args.resolve_after,
            "group_wait_s": args.group_wait_s,
            "plugin": plugin_command.__doc__ if use_plugin else None,
            "nagios_max_check_attempts": NAGIOS_MAX_CHECK_ATTEMPTS,
        },
        "breaks": [],
    }
    servers = MailServers(lock_timeout_s=3600)
    log("starting Postfix and Dovecot (waits while another run holds the harness)")
    servers.start()
    try:
        servers.add_users([MAILWATCH_USER, PLUGIN_USER])
        with tempfile.TemporaryDirectory(prefix="mailwatch-tta-") as tmp, StampedReceiver() as rx:
            work = Path(tmp)
            plugin = (
                PluginLoop(plugin_command(servers), trust_env(servers, work), args.interval).start()
                if use_plugin
                else None
            )
            try:
                for key in args.breaks:
                    # A daemon of its own per break: a check's last 21 results decide flapping,
                    # and breaks minutes apart would make it flap and hold the recovery back.
                    learn = not (BREAKS[key].fixed_deadline or args.fixed_deadline)
                    with Watched(servers, work / key, rx, args, learn) as (daemon, watch):
                        if key.startswith("held") and learn:
                            # A daemon that has been running a while: its deadline learned.
                            poll("a learned deadline", lambda: learned(watch, args), args.bound_s)
                        row = measure_break(key, servers, daemon, rx, watch, plugin, args)
                    row.daemon_log = daemon_log_counts(daemon)
                    figures["breaks"].append(asdict(row))
                if args.soak_minutes > 0:
                    with Watched(servers, work / "soak", rx, args, True) as (daemon, watch):
                        figures["soak"] = soak(daemon, rx, watch, plugin, args)
                    figures["soak"]["daemon_log"] = daemon_log_counts(daemon)
            finally:
                if plugin is not None:
                    plugin.stop()
    finally:
        servers.stop()
    figures["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(table(figures))
    log(f"figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
