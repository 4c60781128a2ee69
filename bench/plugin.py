"""check_email_delivery, the Nagios plugin mailwatch is compared with, run as Nagios runs it.

Debian's ``monitoring-plugins-contrib`` ships it (version 0.7.1). Each probe is a process:
``check_email_delivery`` (Perl) runs ``check_smtp_send`` (Perl), sleeps ``--wait`` seconds
(default 5), then runs ``check_imap_receive`` (Perl), which searches every
``--imap-check-interval`` seconds (default 5). It prints
``EMAIL DELIVERY OK - 6 seconds, 6 delay | delay=6s;95;300;0 elapsed=6s``: ``delay`` is the time
from its start to the moment its search found the message, in whole seconds unless ``--hires``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.measure import ProcessRun, run_measured
from bench.servers import HOST, MAIL_FROM
from harness.mailservers import MailServers

PLUGIN = Path("/usr/lib/nagios/plugins/check_email_delivery")
_DELAY = re.compile(r"\bdelay=([0-9.]+)s")


@dataclass(frozen=True)
class Variant:
    """A way of running the plugin: its name in the tables and its extra arguments."""

    name: str
    args: tuple[str, ...]


AS_SHIPPED = Variant("check_email_delivery (defaults)", ())
"""What most installations run: wait 5 s after sending, then search every 5 s, whole seconds."""
TUNED = Variant(
    "check_email_delivery (--hires --wait 1 --imap-check-interval 1)",
    ("--hires", "--wait", "1", "--imap-check-interval", "1"),
)
"""The quickest it can be set: ``--wait`` and the interval are whole seconds, and 0 means 5."""
VARIANTS = (AS_SHIPPED, TUNED)


@dataclass(frozen=True)
class PluginRun:
    process: ProcessRun
    """``started_at`` is the send start its ``delay`` is measured from (the spawn)."""
    delay_s: float | None


def command(servers: MailServers, user: str, variant: Variant) -> list[str]:
    address = servers.address(user)
    return [
        str(PLUGIN),
        "-H", HOST,
        "--smtp-port", str(servers.submission_port), "--smtptls",
        "--imap-port", str(servers.imaps_port), "--imapssl",
        "--mailto", address, "--mailfrom", MAIL_FROM,
        "--username", address, "--password", servers.password,
        *variant.args,
    ]  # fmt: skip


def run(servers: MailServers, user: str, variant: Variant, env: dict[str, str]) -> PluginRun:
    """One probe, as one process tree."""
    process = run_measured(command(servers, user, variant), env)
    match = _DELAY.search(process.output)
    return PluginRun(process, float(match.group(1)) if match else None)


def version() -> str:
    text = PLUGIN.read_text(errors="replace") if PLUGIN.exists() else ""
    found = re.search(r"my \$VERSION = '([^']+)'", text)
    return found.group(1) if found else "not installed"
