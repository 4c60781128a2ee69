"""``mailwatch demo``'s story: a mail system of its own on loopback, the real daemon watching it,
delivery broken on purpose and repaired, told step by step with the daemon's own status file
and the alerts it sends to a local channel.

The daemon runs as a subprocess (``mailwatch run``), exactly as in production; the demo only
reads what it writes (``status.json``, ``status.txt``, the ticket database through
``mailwatch show``). Every wait is bounded; a timeout says what was expected and shows the end
of the daemon's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from mailwatch.demo.servers import DOMAIN, HOST, Alert, AlertReceiver, DemoServers

ROUTE = "canary-demo"

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, kill, and a closed terminal all stop the demo and what it started."""

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Pace:
    """How fast the story moves. Short intervals so the whole demo takes about a minute."""

    interval_s: float = 6.0
    """Between round trips. Longer than a failing run (deadline_s plus a little)."""
    deadline_s: float = 4.0
    """pymap announces new mail within about 2 s (it rescans the Maildir once a second)."""
    open_after: int = 2
    resolve_after: int = 2
    escalate_after_s: int = 10
    """The severity-1 ladder pages on call this long after the ticket opened."""
    healthy_timeout_s: float = 30.0
    """Daemon start and the first round trip."""
    ticket_timeout_s: float = 45.0
    """open_after failures, plus the run in flight when delivery broke, plus slack."""
    resolve_timeout_s: float = 50.0
    """resolve_after good runs (the first also reports the late canaries), plus slack."""
    alert_timeout_s: float = 20.0
    """An alert due now reaches the receiver (the outbox is polled every second)."""


class DemoFailed(Exception):
    """Something the story waits for did not happen in time."""


class Narrator:
    """Plain headings and lines, flushed at once so a pipe shows progress as it happens."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def title(self, text: str) -> None:
        self.line(text)
        self.line("=" * len(text))

    def heading(self, number: int, text: str) -> None:
        self.line()
        self.line(f"{number}. {text}")

    def say(self, text: str) -> None:
        self.line(f"   {text}")

    def event(self, text: str) -> None:
        self.line(f"   [{time.monotonic() - self.started:5.1f} s] {text}")

    def block(self, text: str) -> None:
        for line in text.rstrip("\n").splitlines():
            self.line(f"     | {line}".rstrip())

    def blank(self) -> None:
        self.line()


def demo_config(
    servers: DemoServers,
    receiver: AlertReceiver,
    state_dir: Path,
    password_file: Path,
    pace: Pace,
) -> str:
    """The daemon's config: one round-trip route through the demo's servers, alerts to the
    demo's receiver, short clocks."""
    mailbox = servers.mailbox
    days = '["mon", "tue", "wed", "thu", "fri", "sat", "sun"]'
    return f"""\
# Written by `mailwatch demo`: one round-trip route through the demo's own SMTP and IMAP
# servers on loopback, with clocks short enough to watch. config/mailwatch.example.toml
# documents every key.

[daemon]
state_dir = "{state_dir}"
status_interval_s = 1          # rewrite the status file every second
start_spread_s = 0             # first round trip right away
shutdown_grace_s = 2
stale_after_s = 15

[[checks.roundtrip]]
name = "{ROUTE}"
interval_s = {pace.interval_s:g}
deadline_s = {pace.deadline_s:g}                 # not arrived by then: critical, not_delivered
mail_from = "mailwatch@{DOMAIN}"
rcpt_to = "{mailbox.address}"

[checks.roundtrip.smtp]
host = "{HOST}"
port = {servers.smtp_port}
tls = "none"                   # loopback only; real routes use starttls or tls
helo = "mailwatch-demo"

[checks.roundtrip.imap]
host = "{HOST}"
port = {servers.imap_port}
tls = "none"
username = "{mailbox.address}"
password = "file:{password_file}"
spam_folders = []
poll_interval_s = 1

[incidents]
open_after = {pace.open_after}                 # failed round trips in a row that open a ticket
resolve_after = {pace.resolve_after}              # good ones in a row that resolve it
default_plan = "demo"

[calendars.round-the-clock]
timezone = "UTC"
days = {days}
hours = "00:00-24:00"

[plans.demo]
calendar = "round-the-clock"
sev1 = {{ response = "15m", resolution = "4h" }}
sev2 = {{ response = "1h", resolution = "1d" }}
sev3 = {{ response = "4h", resolution = "3d" }}

# Alerts: apprise's json:// posts each notice to the demo's receiver, one path per route.
[routes.team]
urls = ["{receiver.url("team")}"]

[routes.oncall]
urls = ["{receiver.url("oncall")}"]
max_severity = 1

# Severity 1: tell the team at once; page on call {pace.escalate_after_s} s later if nobody has
# acknowledged the ticket (`mailwatch ack`) by then.
[escalation.sev1]
steps = [
  {{ after = "0s", routes = ["team"] }},
  {{ after = "{pace.escalate_after_s}s", routes = ["oncall"] }},
]

[outbox]
group_wait_s = 0               # no waiting for related tickets to group with
"""


class DaemonProcess:
    """``mailwatch run`` as a subprocess, its log in a file, its status file read on demand."""

    def __init__(self, config: Path, state_dir: Path, log: Path) -> None:
        self.config = config
        self.state_dir = state_dir
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = dict(os.environ)
        # Not a systemd service, whatever started the demo.
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "MAILWATCH_CONFIG"):
            env.pop(name, None)
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *mailwatch_command("run", "-c", str(self.config)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
                env=env,
                preexec_fn=_parent_death_signal(),
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, timeout_s: float = 15.0) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def status(self) -> dict[str, Any] | None:
        try:
            document: dict[str, Any] = json.loads((self.state_dir / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return document

    def status_text(self) -> str:
        try:
            return (self.state_dir / "status.txt").read_text()
        except FileNotFoundError:
            return "(no status.txt yet)\n"

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty)"


def _parent_death_signal() -> Callable[[], None] | None:
    """For the daemon's child process before exec: SIGTERM it when the demo dies, even by
    SIGKILL, so no daemon is left watching servers that are gone. Linux only (None elsewhere).

    prctl is looked up here, in the parent: between fork and exec the child only calls it,
    without loading anything while other threads' locks may have been copied held."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    signum = int(signal.SIGTERM)

    def set_in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signum)

    return set_in_child


def mailwatch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailwatch", *args]


class Demo:
    def __init__(self, out: TextIO, keep: bool, pace: Pace) -> None:
        self.say = Narrator(out)
        self.keep = keep
        self.pace = pace
        self.workdir = Path(tempfile.mkdtemp(prefix="mailwatch-demo-"))
        self.config = self.workdir / "mailwatch.toml"
        self.state_dir = self.workdir / "state"
        self.daemon = DaemonProcess(self.config, self.state_dir, self.workdir / "daemon.log")
        self._last_run: str | None = None
        self._alerts_shown = 0

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        try:
            with AlertReceiver() as receiver:
                async with DemoServers(self.workdir) as servers:
                    try:
                        return await self._until_stopped(servers, receiver, stop)
                    finally:
                        await self.daemon.stop()
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _until_stopped(
        self, servers: DemoServers, receiver: AlertReceiver, stop: asyncio.Event
    ) -> int:
        story = asyncio.create_task(self._story(servers, receiver))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({story, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not story.done():
                story.cancel()
                await asyncio.gather(story, return_exceptions=True)
                self.say.blank()
                self.say.say("Interrupted: stopping the daemon and the mail servers.")
                return EXIT_INTERRUPTED
            try:
                story.result()
            except DemoFailed as failure:
                self._explain_failure(str(failure))
                return EXIT_FAILED
            if not self.keep:
                return 0
            self._keep_note()
            while not stopped.done():
                if not self.daemon.running:
                    self.say.say("The daemon stopped on its own. Its log ends with:")
                    self.say.block(self.daemon.log_tail())
                    return EXIT_FAILED
                await asyncio.wait({stopped}, timeout=1.0)
            self.say.blank()
            self.say.say("Stopping the daemon and the mail servers.")
            return 0
        finally:
            stopped.cancel()

    # ------------------------------------------------------------------------------ story

    async def _story(self, servers: DemoServers, receiver: AlertReceiver) -> None:
        pace = self.pace
        say = self.say
        say.title("mailwatch demo")
        say.say("A small mail system on this machine, the real mailwatch daemon watching it,")
        say.say("and an outage on purpose. About a minute; nothing outside this machine is used.")
        say.say(f"Its files: {self.workdir} (removed at the end).")

        say.heading(1, "Starting a mail system of our own")
        say.say(f"SMTP server (aiosmtpd) on {HOST}:{servers.smtp_port}, delivering into a Maildir")
        say.say(
            f"IMAP server (pymap, with IDLE) on {HOST}:{servers.imap_port}, "
            f"account {servers.mailbox.address}"
        )
        say.say(
            f"Alert receiver on http://{HOST}:{receiver.port}/, standing in for your phone: "
            "the routes"
        )
        say.say("`team` and `oncall` send to it through apprise's json:// (a webhook).")

        say.heading(2, "Starting the daemon, the same `mailwatch run` a server runs")
        password_file = self.workdir / "imap-password"
        password_file.write_text(servers.mailbox.password + "\n")
        password_file.chmod(0o600)
        self.config.write_text(demo_config(servers, receiver, self.state_dir, password_file, pace))
        say.say(f"mailwatch run -c {self.config}")
        say.say(
            f"Every {pace.interval_s:g} s it sends a canary message through SMTP and waits up "
            f"to {pace.deadline_s:g} s"
        )
        say.say("for it to arrive over IMAP, then deletes it. A severity-1 ticket alerts the team")
        say.say(f"at once, and pages on call {pace.escalate_after_s} s later unless acknowledged.")
        await self.daemon.start()
        say.say(f"Waiting for the first round trip (at most {pace.healthy_timeout_s:g} s)...")
        await self._wait(
            "the first round trip to succeed (check state ok in status.json)",
            lambda doc: (c := _route(doc)) is not None and c["state"] == "ok",
            pace.healthy_timeout_s,
        )
        say.say(f"Mail flows. The daemon's status file ({self.state_dir / 'status.txt'}):")
        say.block(await self._status_text("overall OK"))

        say.heading(3, "Breaking delivery on purpose")
        servers.hold()
        say.say('The SMTP server still answers "250 Ok: queued" but now keeps the mail instead')
        say.say("of delivering it: a stalled queue, the outage nobody notices until users call.")
        say.say(
            f"Waiting for a ticket ({pace.open_after} failed round trips in a row open one; "
            f"at most {pace.ticket_timeout_s:g} s)..."
        )
        ticket = await self._wait(
            "a ticket for the route to open (status.json tickets)",
            lambda doc: next((t for t in doc["tickets"] if t["check"] == ROUTE), None),
            pace.ticket_timeout_s,
        )
        number = str(ticket["id"])
        say.event(
            f"ticket {number} opened: severity {ticket['severity']}, "
            f"response due by {_clock(ticket['response_due'])} under the demo's SLA plan"
        )
        say.say(f"{servers.held_count} canaries are stuck in the stalled queue. status.txt now:")
        say.block(await self._status_text(number))

        say.heading(4, "The alert")
        say.say("The outbox hands the ticket's first notice to the `team` route:")
        await self._wait_for_alert(
            receiver, "the alert announcing the ticket", lambda a: a.route == "team"
        )

        say.heading(5, "The escalation")
        say.say(
            f"Nobody runs `mailwatch ack {number}`, so {pace.escalate_after_s} s after the "
            "ticket opened the ladder's"
        )
        say.say("second step pages on call:")
        await self._wait_for_alert(
            receiver,
            "the escalation to the oncall route",
            lambda a: a.route == "oncall",
            pace.escalate_after_s + pace.alert_timeout_s,
        )
        await self._wait(
            "status.json to show the escalation step",
            lambda doc: any(
                t["id"] == number and (t["escalation_step"] or 0) >= 2 for t in doc["tickets"]
            ),
            pace.alert_timeout_s,
        )
        step = next(
            line.strip()
            for line in (await self._status_text("escalation step 2")).splitlines()
            if "escalation step" in line
        )
        say.say(f"status.txt: {step}")

        say.heading(6, "Repairing delivery")
        released = servers.release()
        say.event(f"released the queue: {released} held canaries delivered, late")
        say.say("The next round trip finds them and names them once in its summary; then")
        say.say(
            f"{pace.resolve_after} good round trips in a row resolve the ticket "
            f"(at most {pace.resolve_timeout_s:g} s)..."
        )
        await self._wait(
            f"ticket {number} to resolve itself (gone from status.json tickets, check ok)",
            lambda doc: (
                all(t["id"] != number for t in doc["tickets"])
                and (c := _route(doc)) is not None
                and c["state"] == "ok"
            ),
            pace.resolve_timeout_s,
        )
        say.event(f"ticket {number} resolved by mailwatch: mail flows again")
        say.say("Everyone who was told about the outage hears that it is over:")
        told = {alert.route for alert in receiver.received() if alert.level != "success"}
        recovered: set[str] = set()

        def everyone_told(alert: Alert) -> bool:
            if alert.level == "success":
                recovered.add(alert.route)
            return recovered >= told

        await self._wait_for_alert(
            receiver, f"recovery notices to {', '.join(sorted(told))}", everyone_told
        )

        say.heading(7, "Where things stand")
        say.say("status.txt:")
        say.block(await self._status_text("OPEN TICKETS: none"))
        say.say(f"The ticket's timeline, as `mailwatch show {number}` prints it:")
        say.block(await self._show(number))
        say.blank()
        say.say(f"Demo finished in {time.monotonic() - say.started:.0f} s.")
        say.say("Next: ./scripts/check-local runs mailwatch against a real Postfix and Dovecot;")
        say.say("README.md and docs/ explain the rest.")

    async def _wait(
        self, what: str, found: Callable[[dict[str, Any]], Any], timeout_s: float
    ) -> Any:
        """Poll status.json until ``found`` returns something truthy, printing each new result
        of the route on the way; DemoFailed after ``timeout_s`` or if the daemon exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            document = self.daemon.status()
            if document is not None:
                self._report_new_result(document)
                value = found(document)
                if value:
                    return value
            if not self.daemon.running:
                raise DemoFailed(f"the daemon exited while waiting for {what}")
            if time.monotonic() >= deadline:
                raise DemoFailed(f"timed out after {timeout_s:g} s waiting for {what}")
            await asyncio.sleep(0.2)

    async def _wait_for_alert(
        self,
        receiver: AlertReceiver,
        what: str,
        wanted: Callable[[Alert], bool],
        timeout_s: float | None = None,
    ) -> Alert:
        """Print the alerts that arrived, in order, until one is ``wanted``; DemoFailed when
        none arrives in time (the daemon's log says why a delivery failed)."""
        timeout_s = self.pace.alert_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            for alert in receiver.received()[self._alerts_shown :]:
                self._alerts_shown += 1
                self._print_alert(alert)
                if wanted(alert):
                    return alert
            if not self.daemon.running:
                raise DemoFailed(f"the daemon exited while waiting for {what}")
            if time.monotonic() >= deadline:
                raise DemoFailed(f"timed out after {timeout_s:g} s waiting for {what}")
            document = self.daemon.status()
            if document is not None:
                self._report_new_result(document)
            await asyncio.sleep(0.2)

    def _print_alert(self, alert: Alert) -> None:
        at = alert.received_at - self.say.started
        self.say.line(f"   [{at:5.1f} s] ALERT to {alert.route} ({alert.level}): {alert.title}")
        # The first alert in full; later ones by their first line, which says what changed.
        body = alert.body if self._alerts_shown == 1 else alert.body.split("\n", 1)[0]
        self.say.block(body)

    async def _status_text(self, showing: str) -> str:
        """status.txt once it shows ``showing``: it is written just after status.json, which
        the waits read, so for a moment it may still hold the previous state."""
        deadline = time.monotonic() + 5.0
        text = self.daemon.status_text()
        while showing not in text and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            text = self.daemon.status_text()
        return text

    def _report_new_result(self, document: dict[str, Any]) -> None:
        check = _route(document)
        if check is None or not check["last_run_at"] or check["last_run_at"] == self._last_run:
            return
        self._last_run = check["last_run_at"]
        stage = f" ({check['stage']})" if check["stage"] else ""
        self.say.event(f"round trip: {check['state'].upper()}{stage}: {check['summary']}")

    async def _show(self, number: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *mailwatch_command("show", number, "-c", str(self.config)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise DemoFailed(f"`mailwatch show {number}` did not answer within 30 s") from None
        if proc.returncode != 0:
            raise DemoFailed(
                f"`mailwatch show {number}` exited {proc.returncode}: {output.decode().strip()}"
            )
        return output.decode()

    def _explain_failure(self, reason: str) -> None:
        say = self.say
        say.blank()
        say.say(f"DEMO FAILED: {reason}.")
        say.say("status.txt at that moment:")
        say.block(self.daemon.status_text())
        say.say(f"The daemon's log ({self.daemon.log.name}) ends with:")
        say.block(self.daemon.log_tail())

    def _keep_note(self) -> None:
        say = self.say
        say.blank()
        say.say("Still running (--keep): the mail servers and the daemon go on. Ctrl-C stops all.")
        say.say(f"  config:       {self.config}")
        say.say(f"  status file:  {self.state_dir / 'status.txt'}")
        say.say(f"  try:          mailwatch status -c {self.config}")
        say.say(f"                mailwatch tickets --all -c {self.config}")


def _clock(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).strftime("%H:%M %Z")


def _route(document: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in document["checks"] if c["name"] == ROUTE), None)


async def run_demo(out: TextIO = sys.stdout, keep: bool = False, pace: Pace | None = None) -> int:
    """Tell the story; 0 when every step happened, 1 when one did not in time, 130 on Ctrl-C."""
    return await Demo(out, keep, pace or Pace()).run()
