"""The outage suite: break mail flow three ways under a running daemon, then repair it.

Each break must give exactly one Severity-1 ticket naming the stage that broke, and the repair
an automatic resolve. Real Postfix and Dovecot (the harness), real daemon subprocess.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.mailservers import MailServers
from helpers.daemon import DaemonProcess, wait_for
from helpers.roundtrip_config import roundtrip_toml


def outage_config(servers: MailServers, state_dir: Path) -> str:
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
{roundtrip}"""


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


def open_tickets(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [t for t in daemon.tickets() if t["status"] != "resolved"]


@pytest.mark.parametrize("name", list(BREAKS))
def test_break_opens_one_sev1_ticket_and_repair_resolves_it(
    name: str, healthy: MailServers, tmp_path: Path
) -> None:
    break_, repair, stage = BREAKS[name]
    daemon = DaemonProcess(
        tmp_path,
        outage_config(healthy, tmp_path / "state"),
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

        repair(healthy)
        resolved = wait_for(
            "the automatic resolve",
            lambda: [t for t in daemon.tickets() if t["status"] == "resolved"],
            timeout_s=45,
        )
        assert [t["ticket"] for t in resolved] == [ticket["ticket"]]
        assert len(daemon.tickets()) == 1, daemon.tickets()
    finally:
        daemon.stop()
