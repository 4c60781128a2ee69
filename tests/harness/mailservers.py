"""Dedicated Postfix and Dovecot instances on 127.0.0.1 for mailwatch's tests.

Everything lives under one base directory (default ``/tmp/mailwatch-harness``)::

    certs/              test CA, server certificates (one set from an "unknown" CA,
                        expired and expiring ones served by SNI name)
    postfix/etc/        main.cf, master.cf, vmailbox(.db)   (``postfix -c`` dir)
    postfix/queue/      queue_directory       postfix/data/  data_directory
    dovecot/<name>/     dovecot.conf, run/ (base_dir), state/ for each instance
    dovecot/users       passwd-file shared by all Dovecot instances
    mail/<domain>/<user>/   Maildirs, owned by the system user ``mailwatch-vmail``
    log/                postfix.log (postlogd), dovecot*.log
    .lock               flock held while a MailServers owns the directory

How this stays away from the system's mail setup:

* Postfix runs as its own instance, ``postfix -c <base>/postfix/etc start``; the
  default instance in /etc/postfix is neither reconfigured nor started. root
  may point postqueue/postsuper at it with ``-c``; non-root users of the
  set-gid ``postqueue``/``postdrop`` may only when the directory is listed in
  the default main.cf, so ``start()`` also appends it to
  ``alternate_config_directories`` in /etc/postfix/main.cf (``postconf -e``).
  That line, the user below, and a temporary /usr/sbin/policy-rc.d while apt
  installs the packages (so the system services are not started) are the only
  changes outside the base directory. No master.cf service is chrooted, so
  nothing needs copying into the queue directory.
* Dovecot runs its instances from their own config files (``dovecot -c``), each
  with its own base_dir, state_dir and log. Dovecot 2.3 cannot vary settings by
  listening port, so the listener without IDLE and the listener with a cert from
  an unknown CA are separate small instances over the same Maildirs and users.
* OAuth2: the ``oauth2`` Dovecot instances (with and without SASL-IR) log users in
  only with XOAUTH2/OAUTHBEARER, through the ``oauth2`` passdb, which asks the
  introspection endpoint at ``OAUTH2_INTROSPECTION_URL``; tests serve it
  (``oauth2server.py``) while they need it. Postfix's ``SMTPS_OAUTH2_PORT`` takes
  SMTP AUTH through the first of them.
* Mail is owned by the system user ``mailwatch-vmail`` (created with ``useradd
  --system`` when missing). Outbound delivery is disabled: every transport other
  than ``virtual`` is ``error:``, so no test mail ever leaves the machine. Mail
  for ``DEFERRED_DOMAIN`` goes over LMTP to a unix socket that does not exist
  instead, so it is deferred for good: that is how tests fill the deferred queue
  (``retry:`` would do it too, but smtpd rejects such recipients at RCPT time).
  Mail for ``BOUNCING_DOMAIN`` is accepted, then relayed by the ``bouncerelay`` transport
  (an smtp client under another host name, so it is no loop) to the harness's own smtpd with
  the domain rewritten to ``DOMAIN``: a user unknown there is refused at RCPT and Postfix
  sends the envelope sender a bounce (RFC 3464), the way an unknown user behind a relay does.
* Certificates with a problem are served by SNI name on the ordinary ports (Postfix
  ``tls_server_sni_maps``, Dovecot ``local_name``): a client asking for
  ``EXPIRED_NAME`` gets a certificate that expired days ago, ``EXPIRING_NAME`` one
  that expires in a few days; any other name gets the valid default certificate.
  ``SMTPS_TLS12_PORT`` is an SMTPS listener capped at TLS 1.2 and
  ``SMTPS_TLS10_PORT`` one that speaks only TLS 1.0 (at OpenSSL security level 0),
  for the TLS check's protocol-version findings.

The Debian packages are installed with apt-get when the binaries are missing.
Starting is idempotent: ``start()`` first stops whatever a previous (possibly
crashed) run left behind, found in /proc by the base directory in the Dovecot
masters' command lines and in the Postfix daemons' ``MAIL_CONFIG`` environment.
An flock on ``<base>/.lock`` keeps a second concurrent run from doing that to a
live run: it waits for the first one to stop instead. Readiness is checked by
polling the TCP ports, always with a deadline.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from .certs import make_ca, now
from .processes import deadline_loop, lock_base_dir, pid_alive, tail, terminate

__all__ = [
    "BOUNCING_DOMAIN",
    "DEFAULT_BASE_DIR",
    "DEFERRED_DOMAIN",
    "DKIM_AUTHSERV_ID",
    "DKIM_MILTER_PORT",
    "DKIM_RECEIVE_PORT",
    "DKIM_SIGN_PORT",
    "DKIM_UNSIGNED_PORT",
    "DOMAIN",
    "EXPIRED_NAME",
    "EXPIRING_NAME",
    "HOST",
    "IMAPS_PORT",
    "IMAPS_UNKNOWN_CA_PORT",
    "IMAP_NOIDLE_PORT",
    "IMAP_OAUTH2_NO_SASL_IR_PORT",
    "IMAP_OAUTH2_PORT",
    "IMAP_PORT",
    "OAUTH2_INTROSPECTION_PORT",
    "PASSWORD",
    "SMTPS_OAUTH2_PORT",
    "SMTPS_PORT",
    "SMTPS_TLS10_PORT",
    "SMTPS_TLS12_PORT",
    "SMTPS_UNKNOWN_CA_PORT",
    "SMTP_PORT",
    "SUBMISSION_PORT",
    "HarnessError",
    "MailServers",
]

HOST = "127.0.0.1"
DOMAIN = "example.test"
DEFAULT_BASE_DIR = Path("/tmp/mailwatch-harness")

SMTP_PORT = 10025  # plain SMTP, STARTTLS offered, no AUTH
SUBMISSION_PORT = 10587  # STARTTLS required, AUTH (Dovecot SASL) required
SMTPS_PORT = 10465  # implicit TLS, AUTH required
SMTPS_UNKNOWN_CA_PORT = 10466  # like SMTPS_PORT, cert from a CA nobody trusts
SMTPS_TLS12_PORT = 10467  # like SMTPS_PORT, TLS 1.3 switched off
SMTPS_TLS10_PORT = 10468  # like SMTPS_PORT, TLS 1.0 only (OpenSSL security level 0)
IMAP_PORT = 10143  # plain IMAP, STARTTLS available, IDLE
IMAPS_PORT = 10993  # implicit TLS IMAP
IMAP_NOIDLE_PORT = 10144  # plain IMAP, no TLS, IDLE not advertised
IMAPS_UNKNOWN_CA_PORT = 10994  # implicit TLS IMAP, cert from an unknown CA
# OAuth2: Dovecot's oauth2 passdb asks the test's introspection endpoint (an HTTP server the
# tests serve on OAUTH2_INTROSPECTION_PORT, tests/harness/oauth2server.py) whether a token is
# good and whose it is; Postfix's SMTP AUTH on SMTPS_OAUTH2_PORT goes through that Dovecot.
IMAP_OAUTH2_PORT = 10145  # IMAP, STARTTLS available, AUTH=XOAUTH2 AUTH=OAUTHBEARER only
IMAP_OAUTH2_NO_SASL_IR_PORT = 10146  # the same without SASL-IR: AUTHENTICATE waits for "+"
SMTPS_OAUTH2_PORT = 10469  # implicit TLS, AUTH XOAUTH2 OAUTHBEARER (Dovecot oauth2 SASL)
OAUTH2_INTROSPECTION_PORT = 10880
OAUTH2_INTROSPECTION_URL = f"http://127.0.0.1:{OAUTH2_INTROSPECTION_PORT}/introspect"

POSTFIX_PORTS = (
    SMTP_PORT,
    SUBMISSION_PORT,
    SMTPS_PORT,
    SMTPS_UNKNOWN_CA_PORT,
    SMTPS_TLS12_PORT,
    SMTPS_TLS10_PORT,
    SMTPS_OAUTH2_PORT,
)

# DKIM (tests/harness/opendkim.py): mail handed to DKIM_SIGN_PORT is signed by OpenDKIM, then
# relayed from 127.0.0.2 (so OpenDKIM takes it for outside mail) to DKIM_RECEIVE_PORT, whose
# OpenDKIM verifies it and writes Authentication-Results as DKIM_AUTHSERV_ID before delivery.
# DKIM_UNSIGNED_PORT is the same path with the signing milter switched off.
DKIM_SIGN_PORT = 10588
DKIM_UNSIGNED_PORT = 10589
DKIM_RECEIVE_PORT = 10590
DKIM_MILTER_PORT = 10891  # OpenDKIM, started by the tests that use these ports
DKIM_AUTHSERV_ID = f"mx.{DOMAIN}"  # the receiving smtpd's host name and OpenDKIM's AuthservID
DKIM_PORTS = (DKIM_SIGN_PORT, DKIM_UNSIGNED_PORT, DKIM_RECEIVE_PORT)
POSTFIX_PORTS = (*POSTFIX_PORTS, *DKIM_PORTS)

PASSWORD = "harness-password"  # every harness user has this password
DEFAULT_USERS = ("canary", "second", "junk")
JUNK_USER = "junk"  # Postfix delivers this user's mail into folder Junk
PROBE_USER = "harness-probe"  # receives the harness's own probe messages
VMAIL_USER = "mailwatch-vmail"
SERVER_NAMES = ("localhost", f"mail.{DOMAIN}")
EXPIRED_NAME = f"expired.{DOMAIN}"  # SNI name served a certificate that expired 3 days ago
EXPIRING_NAME = f"expiring.{DOMAIN}"  # SNI name served a certificate that expires in 5 days
DEFERRED_DOMAIN = "deferred.test"  # mail for it is accepted, then deferred for good
BOUNCING_DOMAIN = "bouncing.test"  # accepted, relayed to DOMAIN's smtpd: unknown users bounce
BOUNCE_RELAY_NAME = "relay.bouncing.test"  # the relaying smtp client's host name

# What Dovecot 2.3.19 advertises after login, minus IDLE.
NOIDLE_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
    "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
    "CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
    "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE "
    "LITERAL+ NOTIFY SPECIAL-USE"
)

# smtpd_recipient_restrictions while delivery is held: every message accepted by
# smtpd goes to the hold queue, which the queue manager never touches.
HOLD_RESTRICTION = "check_client_access static:HOLD"

_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


class HarnessError(RuntimeError):
    """The mail servers could not be set up, started or controlled."""


@dataclass(frozen=True)
class _Dovecot:
    """One Dovecot instance: its name and the IMAP listeners it owns."""

    name: str
    imap_port: int = 0  # 0 disables the listener
    imaps_port: int = 0
    ssl: bool = True
    unknown_ca: bool = False
    idle: bool = True
    auth_socket: bool = False  # serves Postfix's SASL
    oauth2: bool = False  # passdb oauth2 (OAUTH2_INTROSPECTION_URL) instead of the passwd-file
    sasl_ir: bool = True  # False: SASL-IR left out of the capabilities


_DOVECOTS = (
    _Dovecot("main", imap_port=IMAP_PORT, imaps_port=IMAPS_PORT, auth_socket=True),
    _Dovecot("noidle", imap_port=IMAP_NOIDLE_PORT, ssl=False, idle=False),
    _Dovecot("unknown-ca", imaps_port=IMAPS_UNKNOWN_CA_PORT, unknown_ca=True),
    _Dovecot("oauth2", imap_port=IMAP_OAUTH2_PORT, auth_socket=True, oauth2=True),
    _Dovecot(
        "oauth2-no-sasl-ir", imap_port=IMAP_OAUTH2_NO_SASL_IR_PORT, oauth2=True, sasl_ir=False
    ),
)


def _port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class MailServers:
    """Dedicated Postfix + Dovecot on 127.0.0.1; see the module docstring.

    ``start()`` returns once every port accepts connections; ``stop()`` ends all
    processes. Users are ``canary``, ``second`` and ``junk`` at example.test
    (``add_users`` makes more), all with password ``PASSWORD``.
    """

    host = HOST
    domain = DOMAIN
    password = PASSWORD
    smtp_port = SMTP_PORT
    submission_port = SUBMISSION_PORT
    smtps_port = SMTPS_PORT
    smtps_unknown_ca_port = SMTPS_UNKNOWN_CA_PORT
    smtps_tls12_port = SMTPS_TLS12_PORT
    smtps_tls10_port = SMTPS_TLS10_PORT
    imap_port = IMAP_PORT
    imaps_port = IMAPS_PORT
    imap_noidle_port = IMAP_NOIDLE_PORT
    imaps_unknown_ca_port = IMAPS_UNKNOWN_CA_PORT
    imap_oauth2_port = IMAP_OAUTH2_PORT
    imap_oauth2_no_sasl_ir_port = IMAP_OAUTH2_NO_SASL_IR_PORT
    smtps_oauth2_port = SMTPS_OAUTH2_PORT
    oauth2_introspection_url = OAUTH2_INTROSPECTION_URL
    expired_name = EXPIRED_NAME
    expiring_name = EXPIRING_NAME
    deferred_domain = DEFERRED_DOMAIN
    bouncing_domain = BOUNCING_DOMAIN
    canary = f"canary@{DOMAIN}"
    second = f"second@{DOMAIN}"
    junk = f"{JUNK_USER}@{DOMAIN}"

    def __init__(
        self, base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR, lock_timeout_s: float = 180.0
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.lock_timeout_s = lock_timeout_s
        self.cert_dir = self.base_dir / "certs"
        self.postfix_dir = self.base_dir / "postfix" / "etc"
        self.queue_dir = self.base_dir / "postfix" / "queue"
        self.mail_dir = self.base_dir / "mail"
        self.log_dir = self.base_dir / "log"
        self.postfix_log = self.log_dir / "postfix.log"
        self.dovecot_log = self.log_dir / "dovecot.log"  # the main instance
        self.ca_file = self.cert_dir / "mailwatch-harness-ca.crt"  # trust this
        self.unknown_ca_file = self.cert_dir / "mailwatch-unknown-ca.crt"  # not this
        self.server_cert = self.cert_dir / "server.crt"
        self.server_key = self.cert_dir / "server.key"
        self.unknown_ca_cert = self.cert_dir / "server-unknown-ca.crt"
        self.unknown_ca_key = self.cert_dir / "server-unknown-ca.key"
        self.expired_cert = self.cert_dir / "server-expired.crt"  # served for EXPIRED_NAME
        self.expired_key = self.cert_dir / "server-expired.key"
        self.expiring_cert = self.cert_dir / "server-expiring.crt"  # served for EXPIRING_NAME
        self.expiring_key = self.cert_dir / "server-expiring.key"
        self.users: dict[str, str] = {}  # address -> password
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ users

    def address(self, user: str) -> str:
        """``canary`` -> ``canary@example.test``; full addresses pass through."""
        return user if "@" in user else f"{user}@{DOMAIN}"

    @property
    def probe_address(self) -> str:
        return self.address(PROBE_USER)

    def maildir(self, user: str, folder: str = "") -> Path:
        """Path of ``user``'s Maildir; ``folder`` (e.g. ``"Junk"``) is Maildir++."""
        local, _, domain = self.address(user).partition("@")
        path = self.mail_dir / domain / local
        return path / f".{folder}" if folder else path

    def maildir_files(self, user: str, folder: str = "") -> list[Path]:
        """Delivered message files in ``new/`` and ``cur/``, oldest name first.

        A file Dovecot moves from new/ to cur/ while we list is counted once:
        new/ is listed before cur/ and names are compared without flags.
        """
        found: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                files = list((self.maildir(user, folder) / sub).iterdir())
            except FileNotFoundError:
                continue
            for path in files:
                found[path.name.split(":", 1)[0]] = path
        return [found[k] for k in sorted(found)]

    def wait_for_maildir(
        self, user: str, count: int, timeout_s: float = 10.0, folder: str = ""
    ) -> list[Path]:
        """Poll until ``user``'s folder holds at least ``count`` messages."""
        files: list[Path] = []
        for _ in deadline_loop(timeout_s):
            files = self.maildir_files(user, folder)
            if len(files) >= count:
                return files
        raise TimeoutError(
            f"{self.address(user)} folder {folder or 'INBOX'!r} has {len(files)} "
            f"messages after {timeout_s}s, wanted {count}; queue: {self.queue_ids()}\n"
            + tail(self.postfix_log, 30)
        )

    def add_users(self, names: Iterable[str]) -> None:
        """Create more mailboxes (password ``PASSWORD``); returns once SMTP and IMAP accept them."""
        new = [self.address(n) for n in names if self.address(n) not in self.users]
        if not new:
            return
        for addr in new:
            self.users[addr] = PASSWORD
        self._write_user_tables()
        self._postmap()
        self._postfix_cmd("reload")
        # The reload is asynchronous: wait until smtpd knows the last new user.
        self._wait_for(lambda: self._rcpt_accepted(new[-1]), 15.0, f"smtpd accepting {new[-1]}")
        # Dovecot rereads the passwd-file by itself when it changes.
        self._wait_for(lambda: self.imap_login_ok(new[-1]), 15.0, f"IMAP login {new[-1]}")

    # -------------------------------------------------------------------- TLS

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the harness CA (hostname checked)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -------------------------------------------------------------- lifecycle

    def start(self) -> MailServers:
        """(Re)start everything from a clean state; idempotent."""
        if os.geteuid() != 0:
            raise HarnessError("the mail server harness must run as root")
        self._ensure_packages()
        self._acquire_lock()
        try:
            self._stop_all()
            self._prepare()
            self.start_dovecot()
            self.start_postfix()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every harness process and release the base-directory lock."""
        if self._lock_fd is None:
            return  # not started by us: the servers may belong to another run
        try:
            self._stop_all()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> MailServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_postfix(self, timeout_s: float = 15.0) -> None:
        self._postfix_cmd("start")
        self._wait_ports(POSTFIX_PORTS, True, timeout_s, "Postfix")

    def stop_postfix(self, timeout_s: float = 10.0) -> None:
        terminate(self._postfix_pids(), timeout_s)  # masters stop their children
        self._wait_ports(POSTFIX_PORTS, False, timeout_s, "Postfix")

    def start_dovecot(self, timeout_s: float = 15.0) -> None:
        for inst in _DOVECOTS:
            self._run(["dovecot", "-c", str(self._dovecot_conf(inst))], "dovecot start")
        self._wait_ports(self._dovecot_ports(), True, timeout_s, "Dovecot")

    def stop_dovecot(self, timeout_s: float = 10.0) -> None:
        terminate(self._dovecot_pids(), timeout_s)
        self._wait_ports(self._dovecot_ports(), False, timeout_s, "Dovecot")

    # ---------------------------------------------------------- hold/release

    def hold_delivery(self, timeout_s: float = 15.0) -> None:
        """From now on, mail is accepted over SMTP but parked in the hold queue.

        Returns only after a probe message sent over a new SMTP connection has
        landed in the hold queue, i.e. once every smtpd runs the new setting.
        Sessions opened before this call keep the old behaviour.
        """
        self._postconf(smtpd_recipient_restrictions=HOLD_RESTRICTION)
        self._postfix_cmd("reload")
        self._wait_for(lambda: self._probe_held() is True, timeout_s, "hold in force")

    def release_delivery(self, timeout_s: float = 15.0) -> None:
        """Stop holding and deliver everything held, right away."""
        self._postconf(smtpd_recipient_restrictions="")
        self._postfix_cmd("reload")
        # Release only once no smtpd can hold new mail, or a message accepted
        # by a not-yet-restarted smtpd would stay in the hold queue for good.
        self._wait_for(lambda: self._probe_held() is False, timeout_s, "hold lifted")
        # -H moves held mail to the deferred queue; -f makes qmgr deliver it now.
        self._run(["postsuper", "-c", str(self.postfix_dir), "-H", "ALL"], "postsuper -H")
        self._run(["postqueue", "-c", str(self.postfix_dir), "-f"], "postqueue -f")

    def park_a_message(self, timeout_s: float = 15.0) -> None:
        """Leave one message in the hold queue while delivery goes on as usual: hold, then
        lift the hold without releasing what it held (hold_delivery's own probe message)."""
        self.hold_delivery(timeout_s)
        self._postconf(smtpd_recipient_restrictions="")
        self._postfix_cmd("reload")
        self._wait_for(lambda: self._probe_held() is False, timeout_s, "hold lifted")

    def clear_queue(self, timeout_s: float = 15.0) -> None:
        """Delete every queued message (``postsuper -d ALL``); returns once the queue is empty.

        Repeats until no queue file is left, so a message that moved between queues
        during a pass (a deferred one being retried) is caught by the next pass.
        """
        for _ in deadline_loop(timeout_s):
            self._run(["postsuper", "-c", str(self.postfix_dir), "-d", "ALL"], "postsuper -d")
            if not self.queue_ids():
                return
        raise HarnessError(f"queue not empty after {timeout_s}s: {self.queue_ids()}")

    def queue_ids(self, *queues: str) -> list[str]:
        """Queue ids present in the given Postfix queues (default: all of them)."""
        ids: list[str] = []
        for queue in queues or _QUEUES:
            for _, _, files in os.walk(self.queue_dir / queue):
                ids.extend(files)
        return sorted(ids)

    # ---------------------------------------------------------------- internals

    def _run(self, argv: list[str], what: str, timeout_s: float = 60.0) -> str:
        env = {**os.environ, "PATH": _SBIN_PATH + ":" + os.environ.get("PATH", "")}
        # Output goes to a file, not a pipe: daemons (dovecot, postfix master)
        # inherit stdout, and reading a pipe would wait for them to exit.
        with tempfile.TemporaryFile("w+") as out:
            try:
                proc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env=env, timeout=timeout_s,
                )  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise HarnessError(f"{what} failed: {exc}") from exc
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            raise HarnessError(
                f"{what} failed ({proc.returncode}): {' '.join(argv)}\n{output}\n"
                f"{tail(self.postfix_log, 10)}\n{tail(self.dovecot_log, 10)}"
            )
        return output

    def _wait_for(self, ok: Callable[[], bool], timeout_s: float, what: str) -> None:
        for _ in deadline_loop(timeout_s):
            if ok():
                return
        raise HarnessError(f"timed out after {timeout_s}s waiting for {what}")

    def _wait_ports(self, ports: Iterable[int], is_open: bool, timeout_s: float, what: str) -> None:
        ports = list(ports)
        for _ in deadline_loop(timeout_s):
            pending = [p for p in ports if _port_open(p) != is_open]
            if not pending:
                return
        state = "open" if is_open else "closed"
        log = self.postfix_log if what == "Postfix" else self.dovecot_log
        raise HarnessError(
            f"{what}: ports {pending} not {state} after {timeout_s}s\n{tail(log, 30)}"
        )

    def _ensure_packages(self) -> None:
        def missing() -> bool:
            path = _SBIN_PATH + ":" + os.environ.get("PATH", "")
            tools = ("postfix", "postconf", "postmap", "postsuper", "postqueue", "dovecot")
            return any(shutil.which(t, path=path) is None for t in tools) or not (
                Path("/usr/lib/dovecot/imap").exists()
            )

        if not missing():
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "postfix", "dovecot-imapd"]
        # Keep the packages' scripts from starting the system-wide postfix and
        # dovecot (exit 101 = "action forbidden"): the harness runs its own.
        policy = Path("/usr/sbin/policy-rc.d")
        added_policy = not policy.exists()
        if added_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            for argv in (install, ["apt-get", "update", "-q"], install):
                subprocess.run(argv, env=env, capture_output=True, timeout=900, check=False)
                if argv is install and not missing():
                    return
        finally:
            if added_policy:
                policy.unlink()
        raise HarnessError("could not install postfix and dovecot-imapd with apt-get")

    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        self._lock_fd = lock_base_dir(self.base_dir, self.lock_timeout_s)
        if self._lock_fd is None:
            raise HarnessError(
                f"{self.base_dir} is in use by another test run (waited {self.lock_timeout_s}s)"
            )

    # --- processes

    def _postfix_pids(self) -> set[int]:
        # Postfix daemons inherit MAIL_CONFIG from ``postfix -c``; match on the
        # executable too, so a shell that exported it is left alone.
        marker = f"MAIL_CONFIG={self.postfix_dir}".encode()
        return self._scan_proc(
            lambda exe, cmd, env: exe.startswith("/usr/lib/postfix/") and marker in env.split(b"\0")
        )

    def _dovecot_pids(self) -> set[int]:
        # Each Dovecot master runs as "dovecot -c <base>/dovecot/<name>/dovecot.conf";
        # its children exit with it.
        marker = str(self.base_dir / "dovecot").encode() + b"/"
        return self._scan_proc(lambda exe, cmd, env: exe.endswith("/dovecot") and marker in cmd)

    @staticmethod
    def _scan_proc(match: Callable[[str, bytes, bytes], bool]) -> set[int]:
        """Pids of live processes for which ``match(exe, cmdline, environ)``.

        Scanning /proc rather than trusting pid files also finds the servers of
        a crashed run whose base directory was wiped meanwhile.
        """
        pids: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                exe = str((entry / "exe").readlink())
                cmd = (entry / "cmdline").read_bytes()
                env = (entry / "environ").read_bytes()
            except OSError:
                continue  # exited meanwhile, or a kernel thread
            if match(exe, cmd, env) and pid_alive(int(entry.name)):
                pids.add(int(entry.name))
        return pids

    def _stop_all(self) -> None:
        terminate(self._postfix_pids() | self._dovecot_pids(), 10.0)
        ports = (*POSTFIX_PORTS, *self._dovecot_ports())
        self._wait_ports(ports, False, 5.0, "another program (not the harness)")

    # --- configuration

    def _dovecot_dir(self, inst: _Dovecot) -> Path:
        return self.base_dir / "dovecot" / inst.name

    def _dovecot_conf(self, inst: _Dovecot) -> Path:
        return self._dovecot_dir(inst) / "dovecot.conf"

    def _oauth2_conf(self, inst: _Dovecot) -> Path:
        return self._dovecot_dir(inst) / "dovecot-oauth2.conf.ext"

    @property
    def _auth_socket(self) -> Path:
        return self._dovecot_dir(_DOVECOTS[0]) / "run" / "auth-postfix"

    @property
    def _oauth2_auth_socket(self) -> Path:
        oauth2 = next(inst for inst in _DOVECOTS if inst.oauth2)
        return self._dovecot_dir(oauth2) / "run" / "auth-postfix"

    @staticmethod
    def _dovecot_ports() -> list[int]:
        return [p for i in _DOVECOTS for p in (i.imap_port, i.imaps_port) if p]

    def _prepare(self) -> None:
        """Fresh directories, user, certificates, tables and config files."""
        for child in self.base_dir.iterdir():
            if child.name != ".lock":
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        vmail = self._vmail_user()
        for d in (self.cert_dir, self.postfix_dir, self.queue_dir, self.log_dir):
            d.mkdir(parents=True)
        self.mail_dir.mkdir()
        # virtual(8) and Dovecot create the Maildirs as this user.
        os.chown(self.mail_dir, vmail.pw_uid, vmail.pw_gid)
        self.mail_dir.chmod(0o700)
        self._make_certs()
        self.users = {self.address(u): PASSWORD for u in (*DEFAULT_USERS, PROBE_USER)}
        self._write_user_tables()
        self._write_postfix_config(vmail)
        self._postmap()
        self._write_sni_map()
        for inst in _DOVECOTS:
            (self._dovecot_dir(inst) / "run").mkdir(parents=True)
            (self._dovecot_dir(inst) / "state").mkdir()
            self._dovecot_conf(inst).write_text(self._dovecot_config(inst, vmail))
            if inst.oauth2:
                self._oauth2_conf(inst).write_text(
                    "# Generated by tests/harness/mailservers.py.\n"
                    f"introspection_url = {OAUTH2_INTROSPECTION_URL}\n"
                    "introspection_mode = post\n"
                    "force_introspection = yes\n"
                    "username_attribute = username\n"
                    "active_attribute = active\n"
                    "active_value = true\n"
                    "timeout_msecs = 5000\n"
                )
        self._allow_postfix_config_dir()

    def _vmail_user(self) -> pwd.struct_passwd:
        try:
            entry = pwd.getpwnam(VMAIL_USER)
        except KeyError:
            self._run(
                ["useradd", "--system", "--user-group", "--no-create-home",
                 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", VMAIL_USER],
                "useradd",
            )  # fmt: skip
            entry = pwd.getpwnam(VMAIL_USER)
        if entry.pw_uid < 100:
            raise HarnessError(f"{VMAIL_USER} has uid {entry.pw_uid}; need >= 100")
        return entry

    def _make_certs(self) -> None:
        ca = make_ca(self.cert_dir, "mailwatch-harness-ca")
        unknown = make_ca(self.cert_dir, "mailwatch-unknown-ca")
        started = now()
        made = [
            ca.cert_path,
            *ca.issue(self.cert_dir, "server", SERVER_NAMES, [HOST]),
            unknown.cert_path,
            *unknown.issue(self.cert_dir, "server-unknown-ca", SERVER_NAMES, [HOST]),
            *ca.issue(
                self.cert_dir,
                "server-expired",
                [EXPIRED_NAME],
                not_before=started - timedelta(days=40),
                not_after=started - timedelta(days=3),
            ),
            *ca.issue(
                self.cert_dir,
                "server-expiring",
                [EXPIRING_NAME],
                not_after=started + timedelta(days=5),
            ),
        ]
        expected = [self.ca_file, self.server_cert, self.server_key, self.unknown_ca_file,
                    self.unknown_ca_cert, self.unknown_ca_key, self.expired_cert,
                    self.expired_key, self.expiring_cert, self.expiring_key]  # fmt: skip
        assert made == expected, made

    def _sni_certs(self) -> dict[str, tuple[Path, Path]]:
        """SNI name -> (key, certificate) served instead of the default certificate."""
        return {
            EXPIRED_NAME: (self.expired_key, self.expired_cert),
            EXPIRING_NAME: (self.expiring_key, self.expiring_cert),
        }

    def _write_user_tables(self) -> None:
        vmailbox, passwd = [], []
        for addr, password in self.users.items():
            local, _, domain = addr.partition("@")
            # Trailing slash = Maildir. junk's mail goes to Maildir++ folder .Junk,
            # as if a spam filter had moved it.
            folder = ".Junk/" if local == JUNK_USER else ""
            vmailbox.append(f"{addr} {domain}/{local}/{folder}\n")
            passwd.append(f"{addr}:{{PLAIN}}{password}::::::\n")
        self._write_atomic(self.postfix_dir / "vmailbox", "".join(vmailbox))
        # Dovecot rereads passwd-file when it changes; rename keeps reads whole.
        # World-readable: auth runs as user dovecot, and the passwords are public.
        self._write_atomic(self.base_dir / "dovecot" / "users", "".join(passwd))

    @staticmethod
    def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)

    def _postmap(self) -> None:
        self._run(
            ["postmap", "-c", str(self.postfix_dir), f"hash:{self.postfix_dir / 'vmailbox'}"],
            "postmap",
        )

    def _write_sni_map(self) -> None:
        # Values are file names; postmap -F stores the files' contents (key, then chain).
        lines = [f"{name} {key} {cert}\n" for name, (key, cert) in self._sni_certs().items()]
        (self.postfix_dir / "sni").write_text("".join(lines))
        self._run(
            ["postmap", "-F", "-c", str(self.postfix_dir), f"hash:{self.postfix_dir / 'sni'}"],
            "postmap -F sni",
        )

    def _postconf(self, **params: str) -> None:
        edits = [f"{k}={v}" for k, v in params.items()]
        self._run(["postconf", "-c", str(self.postfix_dir), "-e", *edits], "postconf -e")
        self._backdate_postfix_config()

    def _backdate_postfix_config(self) -> None:
        # Postfix treats a config file modified within the current second as
        # still being edited: every command and daemon then rereads it every
        # 300 ms until it is ~2 s old. Our writes are complete, so backdate them.
        stamp = time.time() - 5
        for name in ("main.cf", "master.cf"):
            os.utime(self.postfix_dir / name, (stamp, stamp))

    def _postfix_cmd(self, action: str) -> None:
        self._run(["postfix", "-c", str(self.postfix_dir), action], f"postfix {action}")

    def _allow_postfix_config_dir(self) -> None:
        """List our config dir in the default main.cf, for non-root postqueue -c.

        root (the harness) does not need it, so failing here is not fatal.
        """
        with contextlib.suppress(HarnessError):
            self._add_alternate_config_directory()

    def _add_alternate_config_directory(self) -> None:
        current = self._run(["postconf", "-h", "alternate_config_directories"], "postconf").strip()
        dirs = [d for d in re.split(r"[\s,]+", current) if d]
        if str(self.postfix_dir) not in dirs:
            value = ", ".join([*dirs, str(self.postfix_dir)])
            self._run(
                ["postconf", "-e", f"alternate_config_directories = {value}"],
                "postconf -e alternate_config_directories",
            )

    def _write_postfix_config(self, vmail: pwd.struct_passwd) -> None:
        b = self.base_dir
        disabled = "error:outbound delivery is disabled in the mailwatch test harness"
        main = f"""\
# Generated by tests/harness/mailservers.py -- changes are lost on restart.
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {b / "postfix" / "data"}
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
# Nothing may leave this machine: only virtual(8) delivers.
default_transport = {disabled}
relay_transport = {disabled}
local_transport = {disabled}
# Mail for this domain stays in the deferred queue (until deleted or 5 days old).
transport_maps = inline:{{ {DEFERRED_DOMAIN}=lmtp:unix:{b / "postfix" / "no-such-lmtp-socket"} }}
  inline:{{ {BOUNCING_DOMAIN}=bouncerelay:[{HOST}]:{SMTP_PORT} }}
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.mail_dir}
virtual_mailbox_maps = hash:{self.postfix_dir / "vmailbox"}
virtual_alias_maps =
virtual_uid_maps = static:{vmail.pw_uid}
virtual_gid_maps = static:{vmail.pw_gid}
virtual_minimum_uid = 100
virtual_mailbox_limit = 0
maillog_file = {self.postfix_log}
maillog_file_prefixes = {self.log_dir}
smtpd_banner = $myhostname ESMTP mailwatch-harness
biff = no
append_dot_mydomain = no
# Tests measure delivery in seconds: no arrival throttling, quick retries.
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_tls_chain_files = {self.server_key}, {self.server_cert}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
tls_server_sni_maps = hash:{self.postfix_dir / "sni"}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self._auth_socket}
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
# Set to "{HOLD_RESTRICTION}" by hold_delivery().
smtpd_recipient_restrictions =
"""
        auth = (
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
        )
        svc = "inet  n       -       n       -       -       smtpd"
        master = f"""\
# Generated by tests/harness/mailservers.py. Nothing is chrooted.
{HOST}:{SMTP_PORT} {svc}
{HOST}:{SUBMISSION_PORT} {svc}
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
{auth}{HOST}:{SMTPS_PORT} {svc}
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
{auth}{HOST}:{SMTPS_UNKNOWN_CA_PORT} {svc}
  -o syslog_name=postfix/smtps-unknown-ca
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_chain_files={self.unknown_ca_key},{self.unknown_ca_cert}
{auth}{HOST}:{SMTPS_TLS12_PORT} {svc}
  -o syslog_name=postfix/smtps-tls12
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_protocols=<=TLSv1.2
  -o smtpd_tls_mandatory_protocols=<=TLSv1.2
{auth}{HOST}:{SMTPS_TLS10_PORT} {svc}
  -o syslog_name=postfix/smtps-tls10
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_protocols=<=TLSv1
  -o smtpd_tls_mandatory_protocols=<=TLSv1
  -o tls_medium_cipherlist=DEFAULT:@SECLEVEL=0
  -o tls_high_cipherlist=DEFAULT:@SECLEVEL=0
{auth}{HOST}:{SMTPS_OAUTH2_PORT} {svc}
  -o syslog_name=postfix/smtps-oauth2
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_path={self._oauth2_auth_socket}
{auth}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# Relays {BOUNCING_DOMAIN} back to our smtpd as {DOMAIN}, under another name (no loop).
bouncerelay unix -      -       n       -       -       smtp
  -o myhostname={BOUNCE_RELAY_NAME}
  -o smtp_generic_maps=inline:{{@{BOUNCING_DOMAIN}=@{DOMAIN}}}
{self._dkim_services(svc)}"""
        (self.postfix_dir / "main.cf").write_text(main)
        (self.postfix_dir / "master.cf").write_text(master)
        self._backdate_postfix_config()

    @staticmethod
    def _dkim_services(svc: str) -> str:
        """The DKIM path's listeners (see DKIM_SIGN_PORT). Without OpenDKIM running, mail
        there is refused with a temporary error (milter_default_action): no other test uses
        them. The receiving smtpd calls itself mx.example.test, or the relay would see its own
        name in the greeting and bounce the mail as a loop."""
        milter = f"inet:{HOST}:{DKIM_MILTER_PORT}"
        relay = f"dkimrelay:[{HOST}]:{DKIM_RECEIVE_PORT}"
        return f"""\
{HOST}:{DKIM_SIGN_PORT} {svc}
  -o syslog_name=postfix/dkim-sign
  -o smtpd_milters={milter}
  -o content_filter={relay}
{HOST}:{DKIM_UNSIGNED_PORT} {svc}
  -o syslog_name=postfix/dkim-unsigned
  -o content_filter={relay}
{HOST}:{DKIM_RECEIVE_PORT} {svc}
  -o syslog_name=postfix/dkim-receive
  -o myhostname={DKIM_AUTHSERV_ID}
  -o smtpd_milters={milter}
  -o content_filter=
dkimrelay unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/dkim-relay
  -o smtp_bind_address=127.0.0.2
"""

    def _dovecot_config(self, inst: _Dovecot, vmail: pwd.struct_passwd) -> str:
        d = self._dovecot_dir(inst)
        log = self.dovecot_log if inst.name == "main" else self.log_dir / f"dovecot-{inst.name}.log"
        if inst.ssl:
            cert, key = (
                (self.unknown_ca_cert, self.unknown_ca_key)
                if inst.unknown_ca
                else (self.server_cert, self.server_key)
            )
            dh = Path("/usr/share/dovecot/dh.pem")
            ssl_conf = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"
            if not inst.unknown_ca:
                for name, (sni_key, sni_cert) in self._sni_certs().items():
                    ssl_conf += (
                        f"local_name {name} {{\n"
                        f"  ssl_cert = <{sni_cert}\n  ssl_key = <{sni_key}\n}}\n"
                    )
            if dh.exists():
                ssl_conf += f"ssl_dh = <{dh}\n"
        else:
            ssl_conf = "ssl = no\n"
        capability = "" if inst.idle else f"imap_capability = {NOIDLE_CAPABILITY}\n"
        if not inst.sasl_ir:
            # imap-login announces this list too, followed by the AUTH= mechanisms.
            without = NOIDLE_CAPABILITY.replace(" SASL-IR", "")
            capability = f"imap_capability = {without} IDLE\n"
        auth_listener = (
            f"  unix_listener {self._auth_socket.name} {{\n"
            "    mode = 0660\n    user = postfix\n    group = postfix\n  }\n"
            if inst.auth_socket
            else ""
        )
        imaps_ssl = "ssl = yes" if inst.ssl else ""
        mechanisms = "xoauth2 oauthbearer" if inst.oauth2 else "plain login"
        passdb = (
            f"  driver = oauth2\n  args = {self._oauth2_conf(inst)}\n"
            if inst.oauth2
            else "  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {self.base_dir / 'dovecot' / 'users'}\n"
        )
        return f"""\
# Generated by tests/harness/mailservers.py -- changes are lost on restart.
instance_name = mailwatch-harness-{inst.name}
base_dir = {d / "run"}
state_dir = {d / "state"}
log_path = {log}
protocols = imap
listen = {HOST}
{ssl_conf}disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
first_valid_uid = 100
# Tests try wrong passwords on purpose; answer at once instead of after 2-15 s.
auth_failure_delay = 0
mail_location = maildir:{self.mail_dir}/%d/%n
# Many tests and the benchmark log in as the same user from 127.0.0.1.
mail_max_userip_connections = 10000
default_process_limit = 2000
default_client_limit = 10000
{capability}passdb {{
{passdb}}}
userdb {{
  driver = static
  args = uid={vmail.pw_uid} gid={vmail.pw_gid} home={self.mail_dir}/%d/%n
}}
namespace inbox {{
  inbox = yes
  mailbox Junk {{
    auto = create
    special_use = \\Junk
  }}
}}
service imap-login {{
  # Listener names match Dovecot's built-in ones so the defaults (143/993)
  # are replaced, not added.
  inet_listener imap {{
    port = {inst.imap_port}
  }}
  inet_listener imaps {{
    port = {inst.imaps_port}
    {imaps_ssl}
  }}
  # One login process serves many connections (TLS proxying included).
  service_count = 0
  process_min_avail = 1
}}
service auth {{
{auth_listener}}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0  # no growing delay for 127.0.0.1 after failed logins
  }}
}}
"""

    # --- probes used to verify hold/release and new users

    def _probe_held(self) -> bool | None:
        """Send a probe: True if smtpd put it in the hold queue, None if unsure."""
        msg = EmailMessage()
        msg["From"] = self.probe_address
        msg["To"] = self.probe_address
        msg["Subject"] = "mailwatch harness probe"
        msg.set_content("probe\n")
        try:
            with smtplib.SMTP(HOST, SMTP_PORT, timeout=10) as smtp:
                smtp.ehlo()
                smtp.mail(self.probe_address)
                smtp.rcpt(self.probe_address)
                code, reply = smtp.data(msg.as_bytes())
        except (OSError, smtplib.SMTPException):
            return None  # e.g. an smtpd exiting for the reload: try again
        found = re.search(rb"queued as (\w+)", reply)
        if code != 250 or found is None:
            return None
        # cleanup has moved the file to its final queue before smtpd answers 250.
        return (self.queue_dir / "hold" / found.group(1).decode()).exists()

    def _rcpt_accepted(self, address: str) -> bool:
        try:
            with smtplib.SMTP(HOST, SMTP_PORT, timeout=10) as smtp:
                smtp.ehlo()
                smtp.mail(self.probe_address)
                code, _ = smtp.rcpt(address)
                smtp.rset()
        except (OSError, smtplib.SMTPException):
            return False
        return code == 250

    def imap_login_ok(self, user: str, port: int = IMAP_PORT) -> bool:
        """True if ``user`` can log in over plain IMAP on ``port``."""
        try:
            with imaplib.IMAP4(HOST, port, timeout=10) as imap:
                imap.login(self.address(user), self.users[self.address(user)])
        except (OSError, imaplib.IMAP4.error):
            return False
        return True
