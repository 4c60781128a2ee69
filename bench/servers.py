"""The harness's Postfix and Dovecot for the bench: roundtrip check configs and server CPU.

Every probe of either tool submits over the submission port (STARTTLS and AUTH) and reads
over implicit-TLS IMAP, as the recipient: the same work on the same servers for both.
Certificates are verified as in production, against the system's CA bundle (to which the
bench adds the harness CA, through ``SSL_CERT_FILE``), not a one-certificate ``ca_file``:
loading the bundle is a real part of a probe's cost.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.mailservers import VMAIL_USER, MailServers

PASSWORD_ENV = "BENCH_PASSWORD"
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST = "127.0.0.1"
"""Both tools connect to the address (the harness's certificates name it): no DNS in the way."""
MAIL_FROM = "bench@example.test"


def vmail_owner() -> tuple[int, int]:
    entry = pwd.getpwnam(VMAIL_USER)
    return entry.pw_uid, entry.pw_gid


def roundtrip_toml(servers: MailServers, name: str, user: str, interval_s: float = 60.0) -> str:
    """One ``[[checks.roundtrip]]`` entry: submission with AUTH, IMAPS, defaults otherwise."""
    address = servers.address(user)
    return f"""
[[checks.roundtrip]]
name = "{name}"
interval_s = {interval_s:g}
mail_from = "{MAIL_FROM}"
rcpt_to = "{address}"
[checks.roundtrip.smtp]
host = "{HOST}"
port = {servers.submission_port}
tls = "starttls"
username = "{address}"
password = "env:{PASSWORD_ENV}"
[checks.roundtrip.imap]
host = "{HOST}"
port = {servers.imaps_port}
tls = "tls"
username = "{address}"
password = "env:{PASSWORD_ENV}"
"""


def daemon_toml(state_dir: Path, metrics_port: int, start_spread_s: float) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
start_spread_s = {start_spread_s:g}

[metrics]
listen = "127.0.0.1:{metrics_port}"
"""


def trust_bundle(servers: MailServers, path: Path) -> Path:
    """The system's CA bundle plus the harness CA, for ``SSL_CERT_FILE``."""
    system = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.exists() else ""
    path.write_text(system.rstrip("\n") + "\n" + servers.ca_file.read_text())
    return path


def client_env(servers: MailServers, bundle: Path) -> dict[str, str]:
    """Environment for the tools' processes: the password, and the trust bundle.

    OpenSSL's default verify paths (Python's ``create_default_context()``, Perl's
    IO::Socket::SSL) take ``SSL_CERT_FILE`` instead of the system bundle.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        PASSWORD_ENV: servers.password,
        "SSL_CERT_FILE": str(bundle),
    }


@dataclass(frozen=True)
class ServerCpu:
    """Cumulative CPU seconds (user + system) of the Postfix and of the Dovecot processes."""

    postfix_s: float
    dovecot_s: float

    @property
    def total_s(self) -> float:
        return self.postfix_s + self.dovecot_s

    def __sub__(self, other: ServerCpu) -> ServerCpu:
        return ServerCpu(self.postfix_s - other.postfix_s, self.dovecot_s - other.dovecot_s)


class ServerCpuMeter:
    """Reads the servers' CPU time: each master's own and reaped children's, plus live children.

    A child that exits between two readings moves from "live" into its master's reaped total,
    so differences of readings count every process once, however short-lived (Dovecot starts
    an ``imap`` process per login, Postfix an ``smtpd`` per burst of connections).
    """

    def __init__(self, servers: MailServers) -> None:
        # The harness finds its processes by base directory; its masters are those whose
        # parent is not one of them.
        postfix = servers._postfix_pids()
        dovecot = servers._dovecot_pids()
        self._masters = {
            "postfix": [psutil.Process(p) for p in postfix if _ppid(p) not in postfix],
            "dovecot": [psutil.Process(p) for p in dovecot if _ppid(p) not in dovecot],
        }

    def read(self) -> ServerCpu:
        totals = {
            name: sum(_tree_cpu_s(m) for m in masters) for name, masters in self._masters.items()
        }
        return ServerCpu(totals["postfix"], totals["dovecot"])


def _ppid(pid: int) -> int:
    try:
        return psutil.Process(pid).ppid()
    except psutil.NoSuchProcess:
        return 0


def _tree_cpu_s(master: psutil.Process) -> float:
    try:
        times = master.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        children = master.children()
    except psutil.NoSuchProcess:
        return 0.0
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # exited meanwhile: its time is in the master's reaped total next reading
        total += times.user + times.system
    return total
