"""OpenDKIM on 127.0.0.1, the milter of the harness Postfix's DKIM path (mailservers.py,
``DKIM_SIGN_PORT``): it signs mail from 127.0.0.1 and verifies mail from anywhere else.

One instance in mode ``sv`` does both ends, as a mail host's OpenDKIM does: the harness
submits from 127.0.0.1 (an internal host: signed for example.test with the key the SigningTable
names), Postfix relays the signed mail from 127.0.0.2 (outside: verified, and an
Authentication-Results header with AuthservID ``mx.example.test`` written above it).

Keys come from the DNS harness (``DnsServer.dkim_keys``), which publishes their records;
OpenDKIM looks them up there through libunbound (``ResolverConfiguration``: forward every
name to the dnsmasq port, ``.test`` taken as unsigned). The SigningTable signs mail from
``stale@example.test`` with selector ``stale``, whose record is not its key.

Everything lives in ``/tmp/mailwatch-opendkim``; ``start()`` takes its flock, stops what a
crashed run left (by pid file), starts ``opendkim -f`` and returns once the milter port
accepts connections. The Debian package is installed with apt-get when missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from pathlib import Path

from .dkim_keys import DKIM_DOMAIN, GOOD_SELECTOR, STALE_SELECTOR, DkimKeys
from .mailservers import DKIM_AUTHSERV_ID, DKIM_MILTER_PORT, HOST
from .processes import deadline_loop, installed_binary, lock_base_dir, pid_alive, terminate

DEFAULT_BASE_DIR = Path("/tmp/mailwatch-opendkim")
STALE_SENDER = f"stale@{DKIM_DOMAIN}"
"""Mail from this address is signed with the ``stale`` selector: its record is another key."""


class HarnessError(RuntimeError):
    """OpenDKIM could not be installed, started or stopped."""


class OpenDkim:
    """The milter; see the module docstring. Use as a context manager."""

    authserv_id = DKIM_AUTHSERV_ID
    port = DKIM_MILTER_PORT

    def __init__(
        self,
        keys: DkimKeys,
        dns_port: int,
        base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR,
        start_timeout_s: float = 10.0,
    ) -> None:
        self.keys = keys
        self.dns_port = dns_port
        self.base_dir = Path(base_dir).resolve()
        self.start_timeout_s = start_timeout_s
        self.pid_file = self.base_dir / "opendkim.pid"
        self.stderr_file = self.base_dir / "opendkim.stderr"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None

    def start(self) -> OpenDkim:
        binary = installed_binary("opendkim", "opendkim", HarnessError)
        self._lock_fd = lock_base_dir(self.base_dir, 120.0)
        if self._lock_fd is None:
            raise HarnessError(f"{self.base_dir} is in use by another test run")
        try:
            self._stop_leftover()
            conf = self._write_config()
            with self.stderr_file.open("wb") as stderr:
                self._proc = subprocess.Popen(
                    [binary, "-f", "-x", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            if self._proc is not None:
                if self._proc.poll() is None:
                    self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=5)
                self._proc = None
            self.pid_file.unlink(missing_ok=True)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> OpenDkim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_config(self) -> Path:
        b = self.base_dir
        key_table = "".join(
            f"{self.keys.record_name(s)} {DKIM_DOMAIN}:{s}:{self.keys.private_key(s)}\n"
            for s in (GOOD_SELECTOR, STALE_SELECTOR)
        )
        (b / "KeyTable").write_text(key_table)
        # refile: the first pattern that matches the From address picks the key.
        (b / "SigningTable").write_text(
            f"{STALE_SENDER} {self.keys.record_name(STALE_SELECTOR)}\n"
            f"*@{DKIM_DOMAIN} {self.keys.record_name(GOOD_SELECTOR)}\n"
        )
        (b / "unbound.conf").write_text(
            "server:\n"
            "  do-not-query-localhost: no\n"
            # OpenDKIM loads the root trust anchor itself; .test is not signed.
            '  domain-insecure: "test"\n'
            # Unbound answers NXDOMAIN for the special-use .test itself unless told not to.
            '  local-zone: "test." nodefault\n'
            "forward-zone:\n"
            '  name: "."\n'
            f"  forward-addr: {HOST}@{self.dns_port}\n"
        )
        conf = b / "opendkim.conf"
        conf.write_text(
            "# Generated by tests/harness/opendkim.py -- changes are lost on restart.\n"
            "Mode sv\n"
            f"Socket inet:{self.port}@{HOST}\n"
            f"PidFile {self.pid_file}\n"
            f"AuthservID {self.authserv_id}\n"
            "AlwaysAddARHeader yes\n"
            f"InternalHosts {HOST}\n"
            f"KeyTable file:{b / 'KeyTable'}\n"
            f"SigningTable refile:{b / 'SigningTable'}\n"
            "Canonicalization relaxed/simple\n"
            "SignatureAlgorithm rsa-sha256\n"
            f"ResolverConfiguration {b / 'unbound.conf'}\n"
            # The keys belong to the test run (root), not to an opendkim user.
            "RequireSafeKeys no\n"
            "Syslog no\n"
        )
        return conf

    def _wait_ready(self) -> None:
        assert self._proc is not None
        for _ in deadline_loop(self.start_timeout_s):
            if self._proc.poll() is not None:
                said = self.stderr_file.read_text(errors="replace")
                raise HarnessError(f"opendkim exited with {self._proc.returncode}: {said}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((HOST, self.port), timeout=0.5),
            ):
                return
        raise HarnessError(f"opendkim did not listen on {HOST}:{self.port}")

    def _stop_leftover(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(self.pid_file.read_text().split()[0])
            exe = Path(f"/proc/{pid}/exe").readlink().name
            if pid_alive(pid) and exe == "opendkim" and terminate({pid}, 5.0):
                raise HarnessError(f"leftover opendkim {pid} would not stop")
        self.pid_file.unlink(missing_ok=True)
