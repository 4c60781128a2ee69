"""DNS lookups for the probes: the resolver built from config, and the one place where
dnspython's exceptions become outcomes a probe can report.

How dnspython's errors map (everything else a probe sees is a :class:`Lookup`)::

    answer with records               -> Outcome.ANSWER
    answer without records (NOERROR)  -> Outcome.NODATA       (asked with raise_on_no_answer=False,
                                                                so no dns.resolver.NoAnswer)
    dns.resolver.NXDOMAIN             -> Outcome.NXDOMAIN
    dns.resolver.LifetimeTimeout      -> Outcome.TIMEOUT      stage dns_timeout
    dns.resolver.NoNameservers, by what the nameservers said:
        SERVFAIL                      -> Outcome.SERVFAIL     stage dns_servfail
        a timeout                     -> Outcome.TIMEOUT      stage dns_timeout
        REFUSED                       -> Outcome.REFUSED      stage dns_refused
        OSError (nothing listening)   -> Outcome.UNREACHABLE  stage dns_unreachable
        anything else (FORMERR, ...)  -> Outcome.ERROR        the caller's stage
    any other dns.exception.DNSException or OSError -> Outcome.ERROR

NXDOMAIN and NODATA are answers, not failures: what they mean (a missing MX is critical, a
missing blocklist entry is good news) is the probe's business. Failures are always unknown:
a check that could not ask cannot say that something is broken.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT

from mailwatch.config.dns import ResolverConfig
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.results import State

_PER_ATTEMPT_TIMEOUT_S = 2.0
"""One try at one nameserver; the rest of ``query_timeout_s`` goes to retries and the next one."""


class Outcome(enum.Enum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    ERROR = "error"


_FAILURE_STAGES = {
    Outcome.TIMEOUT: "dns_timeout",
    Outcome.SERVFAIL: "dns_servfail",
    Outcome.REFUSED: "dns_refused",
    Outcome.UNREACHABLE: "dns_unreachable",
}
_ANSWERED = {Outcome.ANSWER, Outcome.NXDOMAIN, Outcome.NODATA}


@dataclass(frozen=True, slots=True)
class Lookup:
    """One question and what came of it. ``problem`` explains a failure in a few words."""

    name: str
    rdtype: str
    outcome: Outcome
    elapsed_s: float
    records: tuple[dns.rdata.Rdata, ...] = ()
    problem: str = ""

    @property
    def failed(self) -> bool:
        """The nameservers gave no usable answer (timeout, SERVFAIL, ...)."""
        return self.outcome not in _ANSWERED

    def stage(self, fallback: str) -> str:
        """The failure stage: ``dns_timeout``, ``dns_servfail``, ... or ``fallback``."""
        return _FAILURE_STAGES.get(self.outcome, fallback)

    def describe(self) -> str:
        """``MX lookup of example.org timed out: no answer from 192.0.2.53:53 within 5 s``."""
        verb = "timed out" if self.outcome is Outcome.TIMEOUT else "failed"
        return f"{self.rdtype} lookup of {self.name} {verb}: {self.problem}"

    def failure(self, fallback: str, metrics: Mapping[str, float] | None = None) -> ProbeFailure:
        return ProbeFailure(self.stage(fallback), self.describe(), State.UNKNOWN, metrics)

    def addresses(self) -> list[str]:
        return [rdata.to_text() for rdata in self.records if rdata.rdtype in _ADDRESS_TYPES]

    def mx(self) -> list[tuple[int, str]]:
        """``(preference, host)`` sorted; a null MX (RFC 7505) has the host ``"."``."""
        found = [
            (rdata.preference, _host_text(rdata.exchange))
            for rdata in self.records
            if isinstance(rdata, MX)
        ]
        return sorted(found)

    def text(self) -> str:
        """The TXT strings, each record's parts joined, records separated by ``" / "``."""
        return " / ".join(
            b"".join(rdata.strings).decode("utf-8", "replace")
            for rdata in self.records
            if isinstance(rdata, TXT)
        )


_ADDRESS_TYPES = {dns.rdatatype.A, dns.rdatatype.AAAA}


@dataclass(frozen=True, slots=True)
class HostAddresses:
    """The A and AAAA records of one host; ``failures`` are lookups that could not tell."""

    host: str
    addresses: tuple[str, ...]
    failures: tuple[Lookup, ...]
    elapsed_s: float
    nxdomain: bool = False

    @property
    def missing(self) -> bool:
        """Both lookups answered, and neither had an address: the host has none."""
        return not self.addresses and not self.failures

    def absence(self) -> str:
        """Why ``missing``: ``NXDOMAIN`` or ``no A/AAAA record``."""
        return "does not exist (NXDOMAIN)" if self.nxdomain else "has no A/AAAA record"


class DnsResolver:
    """dnspython's async resolver with mailwatch's settings: no cache (a monitor wants what
    the world sees now), absolute names only, one lifetime per lookup."""

    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self._resolver = resolver
        self.where = ", ".join(
            _endpoint(str(server), resolver.port) for server in resolver.nameservers
        )

    @classmethod
    async def from_config(cls, config: ResolverConfig) -> DnsResolver:
        """Build from config; no usable system configuration is an unknown result."""
        if config.nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [str(ip) for ip in config.nameservers]
        else:
            try:
                # Reads /etc/resolv.conf: file I/O, so off the event loop.
                resolver = await asyncio.to_thread(dns.asyncresolver.Resolver, configure=True)
            except dns.resolver.NoResolverConfiguration as exc:
                raise ProbeFailure(
                    "dns_config",
                    f"no system nameservers ({exc}); set resolver.nameservers",
                    State.UNKNOWN,
                ) from None
        resolver.port = config.port
        resolver.lifetime = config.query_timeout_s
        resolver.timeout = min(_PER_ATTEMPT_TIMEOUT_S, config.query_timeout_s)
        resolver.cache = None
        return cls(resolver)

    async def lookup(self, name: str | dns.name.Name, rdtype: str) -> Lookup:
        """Ask once; never raises for DNS trouble (cancellation still propagates)."""
        shown = _host_text(name) if isinstance(name, dns.name.Name) else name.rstrip(".")
        started = time.monotonic()

        def done(
            outcome: Outcome, records: Sequence[dns.rdata.Rdata] = (), problem: str = ""
        ) -> Lookup:
            return Lookup(
                shown, rdtype, outcome, time.monotonic() - started, tuple(records), problem
            )

        try:
            # A name too long for DNS (a long domain in front of a zone) is an error like any.
            qname = name if isinstance(name, dns.name.Name) else dns.name.from_text(name)
            answer = await self._resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            return done(Outcome.NXDOMAIN)
        except dns.resolver.LifetimeTimeout:
            return done(Outcome.TIMEOUT, problem=self._no_answer_text())
        except dns.resolver.NoNameservers as exc:
            outcome, problem = self._classify(exc.kwargs.get("errors") or [])
            if outcome is Outcome.TIMEOUT:
                problem = self._no_answer_text()
            return done(outcome, problem=problem)
        except (dns.exception.DNSException, OSError) as exc:
            return done(Outcome.ERROR, problem=f"{type(exc).__name__}: {exc}")
        if answer.rrset is None:
            return done(Outcome.NODATA)
        return done(Outcome.ANSWER, list(answer.rrset))

    async def host_addresses(self, host: str) -> HostAddresses:
        """A and AAAA of ``host``, asked at the same time."""
        started = time.monotonic()
        lookups = await asyncio.gather(self.lookup(host, "A"), self.lookup(host, "AAAA"))
        return HostAddresses(
            host=host,
            addresses=tuple(address for lookup in lookups for address in lookup.addresses()),
            failures=tuple(lookup for lookup in lookups if lookup.failed),
            elapsed_s=time.monotonic() - started,
            nxdomain=all(lookup.outcome is Outcome.NXDOMAIN for lookup in lookups),
        )

    def _no_answer_text(self) -> str:
        return f"no answer from {self.where} within {self._resolver.lifetime:g} s"

    @staticmethod
    def _classify(errors: Sequence[tuple[object, ...]]) -> tuple[Outcome, str]:
        """What ``NoNameservers`` carries: per nameserver, an rcode name or an exception."""
        outcomes: list[Outcome] = []
        texts: list[str] = []
        for error in errors:
            server = _server_text(str(error[0]))
            said = error[3] if len(error) > 3 else None
            if isinstance(said, str):
                outcome = {
                    "SERVFAIL": Outcome.SERVFAIL,
                    "REFUSED": Outcome.REFUSED,
                }.get(said, Outcome.ERROR)
                text = f"{server} answered {said}"
            elif isinstance(said, dns.exception.Timeout):
                outcome, text = Outcome.TIMEOUT, f"{server} did not answer"
            elif isinstance(said, OSError):
                outcome = Outcome.UNREACHABLE
                text = f"{server} unreachable ({said.strerror or said})"
            else:
                outcome, text = Outcome.ERROR, f"{server}: {said}"
            outcomes.append(outcome)
            if text not in texts:
                texts.append(text)
        for preferred in (
            Outcome.SERVFAIL,
            Outcome.TIMEOUT,
            Outcome.REFUSED,
            Outcome.UNREACHABLE,
        ):
            if preferred in outcomes:
                return preferred, "; ".join(texts)
        return Outcome.ERROR, "; ".join(texts) or "no nameserver gave an answer"


def _host_text(name: dns.name.Name) -> str:
    return "." if name == dns.name.root else name.to_text(omit_final_dot=True)


def _endpoint(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _server_text(server: str) -> str:
    """dnspython names servers ``Do53:192.0.2.53@53``; people write ``192.0.2.53:53``."""
    if server.startswith("Do53:"):
        host, _, port = server.removeprefix("Do53:").rpartition("@")
        return _endpoint(host, port)
    return server
