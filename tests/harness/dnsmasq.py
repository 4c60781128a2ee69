"""dnsmasq on 127.0.0.1 serving the zones the ``mx`` and ``dnsbl`` tests look up.

Two instances run from one base directory (default ``/tmp/mailwatch-dnsmasq``)::

    main.conf / main.pid / main.log           the test zones, on ``DnsServer.port``
    servfail.conf / servfail.pid / ...        a DNSSEC-validating forwarder, ``servfail_port``
    .lock                                     flock held while a DnsServer owns the directory

The main instance is authoritative-ish for ``.test`` (``local=/test/``, so an unknown name is
NXDOMAIN, not REFUSED) and forwards ``timeout.test`` to a UDP socket this class holds open and
never reads, so queries there get no answer at all. dnsmasq never answers SERVFAIL for a dead
upstream (2.90 drops the query or answers REFUSED), so SERVFAIL comes from the second instance:
it validates DNSSEC with the real root trust anchor and forwards everything to the main
instance, whose unsigned answers are therefore bogus -- the SERVFAIL a validating resolver gives
when a zone's DNSSEC is broken.

Each start also makes fresh DKIM keys for example.test (``dkim_keys.py``) and publishes their
TXT records (selectors ``mw`` and ``stale``); ``DnsServer.dkim_keys`` says where the keys are.

Starting is idempotent: ``start()`` takes the directory lock (another test run waits), kills
what a crashed earlier run left behind (pid files, and any dnsmasq whose command line names the
base directory), then starts both instances on free ports and returns once each answers a
query; every wait has a deadline. The ``dnsmasq`` binary is installed with apt-get
(``dnsmasq-base``: the binary without the system service) when missing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
from pathlib import Path

import dns.exception
import dns.message
import dns.query

from .dkim_keys import DkimKeys, make_keys
from .processes import deadline_loop, installed_binary, lock_base_dir, pid_alive, tail, terminate

HOST = "127.0.0.1"
DEFAULT_BASE_DIR = Path("/tmp/mailwatch-dnsmasq")

# --- the zones ------------------------------------------------------------------------------
# MX test domains. Addresses are on loopback so the connect tests can run SMTP servers there:
# 127.0.0.1 and 127.0.0.3 host test SMTP servers; nothing ever listens on 127.0.0.2.
GOOD = "good.test"  # two MX, both resolve
GOOD_MX = ("mx1.good.test", "mx2.good.test")
PARTIAL = "partial.test"  # mx1 on 127.0.0.1, mx2 on 127.0.0.2 (nothing listens)
DOWN = "down.test"  # its only MX is on 127.0.0.2
NULL_MX = "nullmx.test"  # RFC 7505 "0 ."
MIXED_NULL_MX = "mixednull.test"  # "0 ." plus a real MX: invalid
NO_MX = "nomx.test"  # has an A record, no MX
NXDOMAIN = "nxdomain.test"  # does not exist
HALF_ADDRESS = "halfaddr.test"  # mx1 resolves, ghost.halfaddr.test does not exist
NO_ADDRESS = "noaddr.test"  # its only MX host has no A/AAAA (the name exists, with TXT)

# Blocklists. ``bl.test`` lists addresses, ``dbl.test`` lists domains.
IP_ZONE = "bl.test"
DOMAIN_ZONE = "dbl.test"
REFUSING_ZONE = "refusing.test"  # answers every query with 127.255.255.254, like Spamhaus
HIJACK_ZONE = "hijack.test"  # answers every query with 198.51.100.1, like a hijacking resolver
TIMEOUT_ZONE = "timeout.test"  # forwarded to a socket that never answers
LISTED_IPV4 = "203.0.113.7"
LISTED_IPV4_CODE = "127.0.0.4"
LISTED_IPV4_REASON = "Listed: https://bl.test/query/ip/203.0.113.7"
LISTED_IPV6 = "2001:db8::25"
LISTED_IPV6_CODE = "127.0.0.3"
LISTED_IPV6_REASON = "Listed (IPv6): https://bl.test/query/ip/2001:db8::25"
REFUSED_IPV4 = "198.51.100.254"  # bl.test answers 127.255.255.254 for this one only
CLEAN_IPV4 = "192.0.2.10"
CLEAN_IPV6 = "2001:db8::10"
LISTED_DOMAIN = "spammer.test"
LISTED_DOMAIN_CODE = "127.0.1.2"
LISTED_DOMAIN_REASON = "https://dbl.test/query/dbl?domain=spammer.test"
CLEAN_DOMAIN = GOOD
LISTED_MX_DOMAIN = "listedmx.test"  # its MX host has the address LISTED_IPV4

# The root zone's KSK-2017 DS record (IANA root-anchors.xml), as dnsmasq's trust-anchors.conf.
_ROOT_TRUST_ANCHOR = ".,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"


def _reverse(address: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ".".join(reversed(address.split(".")))
    return ".".join(reversed(ip.exploded.replace(":", "")))


def zone_lines() -> list[str]:
    """The dnsmasq directives for every test name above."""
    lines = [
        "local=/test/",
        "host-record=ready.test,127.0.0.9",
        # good.test
        f"mx-host={GOOD},mx1.good.test,10",
        f"mx-host={GOOD},mx2.good.test,20",
        "host-record=mx1.good.test,127.0.0.1",
        "host-record=mx2.good.test,127.0.0.3",
        # partial.test and down.test
        f"mx-host={PARTIAL},mx1.partial.test,10",
        f"mx-host={PARTIAL},mx2.partial.test,20",
        "host-record=mx1.partial.test,127.0.0.1",
        "host-record=mx2.partial.test,127.0.0.2",
        f"mx-host={DOWN},mx.down.test,10",
        "host-record=mx.down.test,127.0.0.2",
        # null MX: preference 0 (0000), exchange the root name (00). mx-host cannot say ".".
        f"dns-rr={NULL_MX},15,000000",
        f"dns-rr={MIXED_NULL_MX},15,000000",
        f"mx-host={MIXED_NULL_MX},mx.good.test,10",
        # no MX, no domain
        f"host-record={NO_MX},127.0.0.5",
        # addresses missing
        f"mx-host={HALF_ADDRESS},mx1.halfaddr.test,10",
        f"mx-host={HALF_ADDRESS},ghost.halfaddr.test,20",
        "host-record=mx1.halfaddr.test,127.0.0.1",
        f"mx-host={NO_ADDRESS},mx.noaddr.test,10",
        'txt-record=mx.noaddr.test,"this name exists but has no address"',
        # an MX host whose address is on the blocklist
        f"mx-host={LISTED_MX_DOMAIN},mx.listedmx.test,10",
        f"host-record=mx.listedmx.test,{LISTED_IPV4}",
        # bl.test: listed IPv4 and IPv6, with reasons; one "refused" answer
        f"host-record={_reverse(LISTED_IPV4)}.{IP_ZONE},{LISTED_IPV4_CODE}",
        f'txt-record={_reverse(LISTED_IPV4)}.{IP_ZONE},"{LISTED_IPV4_REASON}"',
        f"host-record={_reverse(LISTED_IPV6)}.{IP_ZONE},{LISTED_IPV6_CODE}",
        f'txt-record={_reverse(LISTED_IPV6)}.{IP_ZONE},"{LISTED_IPV6_REASON}"',
        f"host-record={_reverse(REFUSED_IPV4)}.{IP_ZONE},127.255.255.254",
        # RFC 5782: every IPv4 list lists 127.0.0.2 as its test entry
        f"host-record=2.0.0.127.{IP_ZONE},127.0.0.2",
        f'txt-record=2.0.0.127.{IP_ZONE},"test entry (RFC 5782)"',
        # dbl.test
        f"host-record={LISTED_DOMAIN}.{DOMAIN_ZONE},{LISTED_DOMAIN_CODE}",
        f'txt-record={LISTED_DOMAIN}.{DOMAIN_ZONE},"{LISTED_DOMAIN_REASON}"',
        # whole zones that misbehave
        f"address=/{REFUSING_ZONE}/127.255.255.254",
        f"address=/{HIJACK_ZONE}/198.51.100.1",
    ]
    return lines


class HarnessError(RuntimeError):
    """dnsmasq could not be installed, started or stopped."""


def _is_our_dnsmasq(pid: int, marker: bytes) -> bool:
    try:
        exe = Path(f"/proc/{pid}/exe").readlink().name
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return exe == "dnsmasq" and marker in cmdline


def _free_port() -> int:
    """A port free for both UDP and TCP on HOST (dnsmasq listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise HarnessError("no free port for dnsmasq")


class DnsServer:
    """The two dnsmasq instances; see the module docstring. Use as a context manager."""

    host = HOST

    def __init__(
        self,
        base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR,
        start_timeout_s: float = 10.0,
        lock_timeout_s: float = 120.0,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.start_timeout_s = start_timeout_s
        self.lock_timeout_s = lock_timeout_s
        self.port = 0
        self.servfail_port = 0
        self._blackhole: socket.socket | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock_fd: int | None = None
        self.dkim_keys: DkimKeys | None = None
        """The DKIM keys of example.test whose records this server publishes (``dkim_keys``)."""

    def resolver(self, port: int | None = None) -> dict[str, object]:
        """The ``resolver`` config section that points a check at this server."""
        return {"nameservers": [HOST], "port": port or self.port, "query_timeout_s": 2.0}

    # --- lifecycle

    def start(self) -> DnsServer:
        binary = installed_binary("dnsmasq", "dnsmasq-base", HarnessError)
        self._acquire_lock()
        try:
            self._stop_leftovers()
            self._blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._blackhole.bind((HOST, 0))
            blackhole_port = self._blackhole.getsockname()[1]
            self.port = _free_port()
            self.dkim_keys = make_keys(self.base_dir / "dkim")
            main = [
                *self._common("main", self.port),
                "cache-size=0",  # every query sees the zones as written (the forwarded ones too)
                *zone_lines(),
                *self.dkim_keys.dnsmasq_lines(),
                f"server=/{TIMEOUT_ZONE}/{HOST}#{blackhole_port}",
            ]
            self._launch(binary, "main", main)
            self.servfail_port = _free_port()
            servfail = [
                *self._common("servfail", self.servfail_port),
                "dnssec",
                f"trust-anchor={_ROOT_TRUST_ANCHOR}",
                "dnssec-check-unsigned",
                f"server={HOST}#{self.port}",
            ]
            self._launch(binary, "servfail", servfail)
            self._wait_ready("main", self.port, "ready.test")
            self._wait_ready("servfail", self.servfail_port, "ready.test")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            for name, proc in self._procs.items():
                if proc.poll() is None:
                    proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
                (self.base_dir / f"{name}.pid").unlink(missing_ok=True)
            self._procs.clear()
            if self._blackhole is not None:
                self._blackhole.close()
                self._blackhole = None
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- helpers

    def _common(self, name: str, port: int) -> list[str]:
        return [
            f"port={port}",
            f"listen-address={HOST}",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "no-poll",
            f"pid-file={self.base_dir / f'{name}.pid'}",
            f"log-facility={self.base_dir / f'{name}.log'}",
            "log-queries",
        ]

    def _launch(self, binary: str, name: str, lines: list[str]) -> None:
        conf = self.base_dir / f"{name}.conf"
        log = self.base_dir / f"{name}.log"
        conf.write_text("\n".join(lines) + "\n")
        log.unlink(missing_ok=True)
        with (self.base_dir / f"{name}.stderr").open("wb") as stderr:
            self._procs[name] = subprocess.Popen(
                [binary, "--keep-in-foreground", f"--conf-file={conf}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def _wait_ready(self, name: str, port: int, probe_name: str) -> None:
        """Until dnsmasq answers a query (any rcode), or it exits, or the deadline passes."""
        proc = self._procs[name]
        query = dns.message.make_query(probe_name, "A")
        for _ in deadline_loop(self.start_timeout_s):
            if proc.poll() is not None:
                stderr = (self.base_dir / f"{name}.stderr").read_text(errors="replace")
                raise HarnessError(f"dnsmasq ({name}) exited with {proc.returncode}: {stderr}")
            try:
                dns.query.udp(query, HOST, port=port, timeout=0.5)
            except (dns.exception.DNSException, OSError):
                continue
            return
        raise HarnessError(
            f"dnsmasq ({name}) did not answer on {HOST}:{port} within {self.start_timeout_s} s"
            f"\n{tail(self.base_dir / f'{name}.log', 20)}"
        )

    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        self._lock_fd = lock_base_dir(self.base_dir, self.lock_timeout_s)
        if self._lock_fd is None:
            raise HarnessError(f"{self.base_dir} is in use by another test run")

    def _stop_leftovers(self) -> None:
        marker = str(self.base_dir).encode()
        pids: set[int] = set()
        for name in ("main", "servfail"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids.add(int((self.base_dir / f"{name}.pid").read_text().split()[0]))
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                pids.add(int(entry.name))
        pids = {pid for pid in pids if pid_alive(pid) and _is_our_dnsmasq(pid, marker)}
        stuck = terminate(pids, 5.0)
        if stuck:
            raise HarnessError(f"leftover dnsmasq {sorted(stuck)} would not stop")
