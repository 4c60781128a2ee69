"""The outage suite: break mail flow three ways under a running daemon, then repair it.

Each break must give exactly one Severity-1 ticket naming the stage that broke, an alert at a
local HTTP receiver, and after the repair an automatic resolve with a recovery notice. Then the
daemon is killed with SIGKILL while a ticket is open and restarted: the same ticket goes on, no
alert is repeated, and the escalation ladder resumes at its step. Real Postfix and Dovecot (the
harness), real daemon subprocesses, real apprise posting to a real HTTP server.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from harness.mailservers import MailServers
from helpers.daemon import DaemonProcess, wait_for
from helpers.http_receiver import HttpReceiver
from helpers.roundtrip_config import roundtrip_toml


def outage_config(
    servers: MailServers, state_dir: Path, receiver: HttpReceiver, ladder: str = ""
) -> str:
    roundtrip = roundtrip_toml(
        servers,
        "flow",
        user=servers.second,
        deadline_s=3,
        check={"interval_s": 1.5},
        smtp={"command_timeout_s": 3},
        imap={"poll_interval_s": 0.5, "command_timeout_s": 3},
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0
shutdown_grace_s = 0

[incidents]
open_after = 2
resolve_after = 2

[outbox]
group_wait_s = 0
retry_initial_s = 1
poll_interval_s = 0.2

[routes.team]
urls = ["{receiver.url("/team")}"]

[routes.oncall]
urls = ["{receiver.url("/oncall")}"]

[escalation.sev1]
steps = [{ladder or '{ after = "0m", routes = ["team"] }'}]
{roundtrip}"""


def posts(receiver: HttpReceiver, path: str) -> list[str]:
    """Titles of the alerts that reached ``path``, in order."""
    return [str(r.json()["title"]) for r in list(receiver.requests) if r.path == path]


Break = tuple[Callable[[MailServers], None], Callable[[MailServers], None], str]

BREAKS: dict[str, Break] = {
    "postfix-stopped": (MailServers.stop_postfix, MailServers.start_postfix, "smtp_connect"),
    "delivery-held": (MailServers.hold_delivery, MailServers.release_delivery, "not_delivered"),
    "dovecot-stopped": (MailServers.stop_dovecot, MailServers.start_dovecot, "imap_connect"),
}


@pytest.fixture
def healthy(mail_servers: MailServers) -> Iterator[MailServers]:
    """The harness running and delivering before and after each test."""
    yield mail_servers
    # Repair whatever the test left broken; starting a running server is an error.
    if not port_open(mail_servers.smtp_port):
        mail_servers.start_postfix()
    if not port_open(mail_servers.imaps_port):
        mail_servers.start_dovecot()
    mail_servers.release_delivery()
    for path in mail_servers.maildir_files("second"):
        path.unlink(missing_ok=True)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def settled(state_dir: Path, route: str) -> bool:
    """Some notice to ``route`` is delivered and none is being sent (read-only, beside the
    running daemon)."""
    uri = f"file:{state_dir / 'mailwatch.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        rows = db.execute("SELECT status FROM outbox WHERE route = ?", (route,)).fetchall()
    statuses = [status for (status,) in rows]
    return "delivered" in statuses and "sending" not in statuses


def open_tickets(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [t for t in daemon.tickets() if t["status"] != "resolved"]


@pytest.mark.parametrize("name", list(BREAKS))
def test_break_opens_one_sev1_ticket_alerts_and_repair_resolves_it(
    name: str, healthy: MailServers, tmp_path: Path
) -> None:
    break_, repair, stage = BREAKS[name]
    with HttpReceiver() as receiver:
        daemon = DaemonProcess(
            tmp_path,
            outage_config(healthy, tmp_path / "state", receiver),
            {"MW_TEST_PASSWORD": healthy.password},
        ).start()
        try:
            wait_for(
                "a healthy round trip",
                lambda: (c := daemon.check_status("flow")) and c["state"] == "ok",
            )
            break_(healthy)
            [ticket] = wait_for("a ticket", lambda: open_tickets(daemon), timeout_s=30)
            assert ticket["severity"] == 1, ticket
            assert ticket["last_stage"] == stage, ticket
            assert ticket["check"] == "flow"
            number = ticket["ticket"]
            [alert] = wait_for("the alert", lambda: posts(receiver, "/team"))
            assert alert == f"[{number}] SEV1 flow: {stage}"

            repair(healthy)
            resolved = wait_for(
                "the automatic resolve",
                lambda: [t for t in daemon.tickets() if t["status"] == "resolved"],
                timeout_s=45,
            )
            assert [t["ticket"] for t in resolved] == [number]
            titles = wait_for(
                "the recovery notice",
                lambda: posts(receiver, "/team")[1:] and posts(receiver, "/team"),
            )
            assert titles == [alert, f"[{number}] SEV1 flow: recovered"]
            assert len(daemon.tickets()) == 1, daemon.tickets()
        finally:
            daemon.stop()


SLOW_LADDER = (
    '{ after = "0m", routes = ["team"] }, '
    '{ after = "4s", routes = ["oncall"], repeat_every = "4s", repeat = 2 }'
)


def test_sigkill_while_a_ticket_is_open_resumes_the_same_ticket_and_ladder(
    healthy: MailServers, tmp_path: Path
) -> None:
    with HttpReceiver() as receiver:
        config = outage_config(healthy, tmp_path / "state", receiver, SLOW_LADDER)
        env = {"MW_TEST_PASSWORD": healthy.password}
        first = DaemonProcess(tmp_path, config, env).start()
        try:
            wait_for(
                "a healthy round trip",
                lambda: (c := first.check_status("flow")) and c["state"] == "ok",
            )
            healthy.stop_postfix()
            [ticket] = wait_for("a ticket", lambda: open_tickets(first), timeout_s=30)
            number = ticket["ticket"]
            wait_for("the first page to on-call", lambda: posts(receiver, "/oncall"))
            # Settled before the kill: a kill between the receiver's answer and the row's
            # "delivered" (a wide window on a loaded machine) rightly sends the page again.
            wait_for("the first page settled", lambda: settled(tmp_path / "state", "oncall"))
            first.send(signal.SIGKILL)
            assert first.proc is not None
            first.proc.wait(10)
        finally:
            first.stop()
        before = (posts(receiver, "/team"), posts(receiver, "/oncall"))
        assert before[0] == [f"[{number}] SEV1 flow: smtp_connect"]
        assert len(before[1]) == 1

        # The same state directory and config: a restart, as systemd would do it.
        first.notify_path.unlink()
        second = DaemonProcess(tmp_path, config, env).start()
        try:
            wait_for("the ladder's remaining pages", lambda: len(posts(receiver, "/oncall")) >= 3)
            healthy.start_postfix()
            wait_for(
                "the automatic resolve",
                lambda: [t for t in second.tickets() if t["status"] == "resolved"],
                timeout_s=45,
            )
            # One recovery notice per route, each its own delivery: wait for both (on-call's
            # is its fourth post, after the three pages).
            wait_for(
                "recovery notices",
                lambda: posts(receiver, "/team")[1:] and len(posts(receiver, "/oncall")) >= 4,
            )
        finally:
            second.stop()
        tickets = second.tickets()
        assert [t["ticket"] for t in tickets] == [number]
        team, pages = posts(receiver, "/team"), posts(receiver, "/oncall")
        # Nothing repeated across the restart: one opening to team, each ladder step once
        # (the first page plus two repeats), then the recovery notices.
        assert team == [f"[{number}] SEV1 flow: smtp_connect", f"[{number}] SEV1 flow: recovered"]
        # One page before the kill, the two repeats after it, none of them twice.
        assert pages[:-1] == [f"[{number}] SEV1 flow: smtp_connect (escalation step 2)"] * 3
        assert pages[-1] == f"[{number}] SEV1 flow: recovered"
