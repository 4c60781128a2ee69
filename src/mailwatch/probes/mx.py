"""The ``mx`` check: does a domain publish MX records, do they resolve, and (optionally) does
each MX host greet on port 25 and offer STARTTLS?

Socket errors of the port-25 session become a short reason in :func:`_greet`; DNS errors are
translated in :mod:`mailwatch.dns`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mailwatch.config.checks.mx import MxCheck
from mailwatch.dns import DnsResolver, HostAddresses, Outcome
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import Finding, ProbeContext
from mailwatch.domain.results import CheckResult, State

_MAX_REPLY_LINES = 100


@dataclass(slots=True)
class MxHost:
    preference: int
    host: str
    addresses: HostAddresses | None = None
    greeting: Greeting | None = None
    unreachable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"preference": self.preference, "host": self.host}
        if self.addresses is not None:
            data["addresses"] = list(self.addresses.addresses)
            data["address_problems"] = [f.describe() for f in self.addresses.failures]
        if self.greeting is not None:
            data.update(
                reachable=True,
                connected_to=self.greeting.address,
                banner=self.greeting.banner,
                starttls=self.greeting.starttls,
                connect_s=round(self.greeting.elapsed_s, 3),
            )
        elif self.unreachable:
            data.update(reachable=False, connect_errors=self.unreachable)
        return data


@dataclass(frozen=True, slots=True)
class Greeting:
    """What an MX said on port 25: its banner, and whether EHLO listed STARTTLS."""

    address: str
    banner: str
    starttls: bool
    elapsed_s: float


class SmtpUnreachable(Exception):
    """One address could not be talked to; the message is the reason, for the summary."""


async def probe(check: MxCheck, ctx: ProbeContext) -> CheckResult:
    ctx.stage = "mx_lookup"
    try:
        resolver = await DnsResolver.from_config(check.resolver)
    except ProbeFailure as failure:
        return ctx.failed(failure)
    domain = check.domain
    answer = await resolver.lookup(domain, "MX")
    metrics: dict[str, float] = {"lookup_s": round(answer.elapsed_s, 3)}
    if answer.failed:
        return ctx.failed(answer.failure("mx_lookup", metrics), nameservers=resolver.where)
    if answer.outcome is Outcome.NXDOMAIN:
        return ctx.result(
            State.CRITICAL,
            f"{domain} does not exist (NXDOMAIN from {resolver.where}): mail to it bounces",
            stage="mx_missing",
            metrics={**metrics, "mx_hosts": 0},
        )
    records = answer.mx()
    if not records:
        return ctx.result(
            State.CRITICAL,
            f"{domain} has no MX records: senders fall back to its A/AAAA record, if any",
            stage="mx_missing",
            metrics={**metrics, "mx_hosts": 0},
        )
    details: dict[str, Any] = {"domain": domain, "nameservers": resolver.where}
    if any(host == "." for _, host in records):
        return _null_mx(check, ctx, records, metrics, details)

    hosts = [MxHost(preference, host) for preference, host in records]
    findings: list[Finding] = []
    if check.expect_null_mx:
        findings.append(
            Finding(
                State.WARNING,
                "mx_unexpected",
                f"{domain} has MX records ({_listing(hosts)}) but expect_null_mx = true "
                "says it should accept no mail",
            )
        )
    expected = check.expected_set
    if expected is not None:
        actual = {mx.host for mx in hosts}
        if actual != expected:
            findings.append(
                Finding(State.WARNING, "mx_unexpected", _difference(domain, actual, expected))
            )

    ctx.stage = "mx_address"
    resolved = await asyncio.gather(*(resolver.host_addresses(mx.host) for mx in hosts))
    for mx, addresses in zip(hosts, resolved, strict=True):
        mx.addresses = addresses
    findings += _address_findings(domain, hosts)
    with_address = [mx for mx in hosts if mx.addresses and mx.addresses.addresses]
    metrics.update(mx_hosts=len(hosts), mx_hosts_with_address=len(with_address))

    if check.connect and with_address:
        ctx.stage = "mx_connect"
        helo = check.helo_name or socket.gethostname()
        await asyncio.gather(*(_connect(mx, check, helo) for mx in with_address))
        findings += _connect_findings(check, hosts, with_address)
        reachable = [mx.greeting for mx in hosts if mx.greeting is not None]
        metrics.update(
            mx_hosts_reachable=len(reachable),
            mx_hosts_starttls=sum(1 for greeting in reachable if greeting.starttls),
        )
        if reachable:
            metrics["connect_s"] = round(max(greeting.elapsed_s for greeting in reachable), 3)

    details["mx"] = [mx.to_dict() for mx in hosts]
    if findings:
        return ctx.concluded(findings, metrics=metrics, details=details)
    summary = f"{domain}: {len(hosts)} MX ({_listing(hosts)}), all with addresses"
    if check.connect:
        starttls = int(metrics["mx_hosts_starttls"])
        summary += f"; all greet on port {check.smtp_port}, STARTTLS on {starttls} of {len(hosts)}"
    return ctx.result(State.OK, summary, metrics=metrics, details=details)


def _null_mx(
    check: MxCheck,
    ctx: ProbeContext,
    records: Sequence[tuple[int, str]],
    metrics: dict[str, float],
    details: dict[str, Any],
) -> CheckResult:
    domain = check.domain
    details["mx"] = [{"preference": preference, "host": host} for preference, host in records]
    metrics["mx_hosts"] = 0
    if len(records) > 1:
        others = ", ".join(f"{p} {h}" for p, h in records if h != ".")
        return ctx.result(
            State.CRITICAL,
            f"{domain} publishes a null MX (RFC 7505) alongside other MX records ({others}); "
            "senders may bounce or deliver: keep one or the other",
            stage="null_mx",
            metrics=metrics,
            details=details,
        )
    if check.expect_null_mx:
        return ctx.result(
            State.OK,
            f"{domain} publishes a null MX (RFC 7505): it accepts no mail, as expected",
            metrics=metrics,
            details=details,
        )
    return ctx.result(
        State.CRITICAL,
        f"{domain} publishes a null MX (RFC 7505 '0 .'): it declares that it accepts no mail, "
        "so senders bounce mail to it (set expect_null_mx = true if that is intended)",
        stage="null_mx",
        metrics=metrics,
        details=details,
    )


def _address_findings(domain: str, hosts: Sequence[MxHost]) -> list[Finding]:
    findings: list[Finding] = []
    lookups = [mx.addresses for mx in hosts if mx.addresses is not None]
    resolved = [found for found in lookups if found.addresses]
    missing = [found for found in lookups if found.missing]
    undetermined = [found for found in lookups if not found.addresses and found.failures]
    for found in undetermined:
        failure = found.failures[0]
        findings.append(Finding(State.UNKNOWN, failure.stage("mx_address"), failure.describe()))
    if missing:
        absent = ", ".join(f"{found.host} {found.absence()}" for found in missing)
        if not resolved and not undetermined:
            findings.append(
                Finding(
                    State.CRITICAL,
                    "mx_address",
                    f"no MX host of {domain} has an address ({absent}): mail to {domain} "
                    "cannot be delivered",
                )
            )
        else:
            findings.append(
                Finding(
                    State.WARNING,
                    "mx_address",
                    f"MX host of {domain} without an address: {absent}; "
                    f"{len(resolved)} of {len(hosts)} MX hosts resolve",
                )
            )
    return findings


def _connect_findings(
    check: MxCheck, hosts: Sequence[MxHost], tried: Sequence[MxHost]
) -> list[Finding]:
    findings: list[Finding] = []
    port = check.smtp_port
    failed = [mx for mx in tried if mx.greeting is None]
    reachable = [mx for mx in hosts if mx.greeting is not None]
    if failed:
        reasons = "; ".join(f"{mx.host}: {', '.join(mx.unreachable)}" for mx in failed)
        if not reachable:
            findings.append(
                Finding(
                    State.CRITICAL,
                    "mx_connect",
                    f"no MX host of {check.domain} greets on port {port}: {reasons}",
                )
            )
        else:
            findings.append(
                Finding(
                    State.WARNING,
                    "mx_connect",
                    f"{reasons}; {len(reachable)} of {len(hosts)} MX hosts of {check.domain} "
                    f"greet on port {port}",
                )
            )
    if check.require_starttls:
        plain = [mx.host for mx in reachable if mx.greeting and not mx.greeting.starttls]
        if plain:
            findings.append(
                Finding(
                    State.WARNING,
                    "mx_starttls",
                    f"{', '.join(plain)} (MX of {check.domain}) does not offer STARTTLS: "
                    "mail to it travels unencrypted",
                )
            )
    return findings


def _listing(hosts: Sequence[MxHost]) -> str:
    return ", ".join(f"{mx.preference} {mx.host}" for mx in hosts)


def _difference(domain: str, actual: set[str], expected: frozenset[str]) -> str:
    parts = []
    if extra := sorted(actual - expected):
        parts.append(f"unexpected {', '.join(extra)}")
    if absent := sorted(expected - actual):
        parts.append(f"missing {', '.join(absent)}")
    return f"MX hosts of {domain} differ from expected_hosts: {'; '.join(parts)}"


async def _connect(mx: MxHost, check: MxCheck, helo: str) -> None:
    """Try the host's addresses in order; the first that greets is enough."""
    assert mx.addresses is not None
    for address in mx.addresses.addresses:
        try:
            mx.greeting = await _greet(address, check.smtp_port, helo, check.connect_timeout_s)
            return
        except SmtpUnreachable as exc:
            mx.unreachable.append(f"{_endpoint(address, check.smtp_port)} {exc}")


async def _greet(address: str, port: int, helo: str, timeout_s: float) -> Greeting:
    """Connect, read the banner, EHLO, QUIT. The one place port-25 errors become reasons."""
    session = _Session(address, port, helo)
    try:
        async with asyncio.timeout(timeout_s):
            return await session.run()
    except TimeoutError:
        raise SmtpUnreachable(f"no {session.step} within {timeout_s:g} s") from None
    except asyncio.IncompleteReadError:
        raise SmtpUnreachable(f"closed the connection before the {session.step}") from None
    except ConnectionRefusedError:
        raise SmtpUnreachable("connection refused") from None
    except OSError as exc:
        raise SmtpUnreachable(exc.strerror or str(exc)) from None
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise SmtpUnreachable(f"does not speak SMTP ({exc})") from None


@dataclass(slots=True)
class _Session:
    """One port-25 conversation; ``step`` says what it was waiting for, for the reason."""

    address: str
    port: int
    helo: str
    step: str = "connection"

    async def run(self) -> Greeting:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(self.address, self.port)
        try:
            self.step = "banner"
            code, banner = await _reply(reader)
            if code != 220:
                raise SmtpUnreachable(f"refuses sessions: {code} {banner[0]}")
            self.step = "EHLO reply"
            writer.write(f"EHLO {self.helo}\r\n".encode("ascii", "replace"))
            await writer.drain()
            code, ehlo = await _reply(reader)
            if code != 250:
                raise SmtpUnreachable(f"rejected EHLO: {code} {ehlo[0]}")
            starttls = any(line.upper().split()[:1] == ["STARTTLS"] for line in ehlo[1:])
            writer.write(b"QUIT\r\n")
            await writer.drain()
            return Greeting(self.address, banner[0], starttls, time.monotonic() - started)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """One SMTP reply: its code and the text of each line (``250-`` continuations joined)."""
    lines: list[str] = []
    while len(lines) < _MAX_REPLY_LINES:
        raw = await reader.readuntil(b"\n")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        code = line[:3]
        if not code.isdigit() or line[3:4] not in ("", " ", "-"):
            raise ValueError(f"unexpected line {line[:60]!r}")
        lines.append(line[4:].strip())
        if line[3:4] != "-":
            return int(code), lines
    raise ValueError(f"reply longer than {_MAX_REPLY_LINES} lines")


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
