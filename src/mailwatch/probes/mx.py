"""The ``mx`` check: does a domain publish MX records, do they resolve, and (optionally) does
each MX host greet on port 25 and offer STARTTLS?

The port-25 conversation is :func:`mailwatch.protocols.smtp.greet`, whose failures arrive as
``SmtpUnreachable`` reasons; DNS errors are translated in :mod:`mailwatch.dns`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mailwatch.config.checks.mx import MxCheck, MxStage
from mailwatch.dns import DnsResolver, HostAddresses, Lookup, Outcome
from mailwatch.domain.errors import ProbeFailure, SmtpUnreachable
from mailwatch.domain.probing import Finding, ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.protocols.smtp import SmtpGreeting, greet


@dataclass(slots=True)
class MxHost:
    preference: int
    host: str
    addresses: HostAddresses | None = None
    greeting: SmtpGreeting | None = None
    unreachable: list[str] = field(default_factory=list)

    @property
    def has_address(self) -> bool:
        return self.addresses is not None and bool(self.addresses.addresses)

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


async def probe(check: MxCheck, ctx: ProbeContext) -> CheckResult:
    """The MX lookup; then, for real MX hosts, the set, their addresses and (with ``connect``)
    their greetings, each step adding its findings."""
    ctx.stage = MxStage.MX_LOOKUP
    try:
        resolver = await DnsResolver.from_config(check.resolver)
    except ProbeFailure as failure:
        return ctx.failed(failure)
    answer = await resolver.lookup(check.domain, "MX")
    metrics: dict[str, float] = {"lookup_s": round(answer.elapsed_s, 3)}
    records = answer.mx()
    if answer.failed or not records:
        return _without_mx(check, ctx, resolver, answer, metrics)
    details: dict[str, Any] = {"domain": check.domain, "nameservers": resolver.where}
    if any(host == "." for _, host in records):
        return _null_mx(check, ctx, records, metrics, details)

    hosts = [MxHost(preference, host) for preference, host in records]
    findings = _set_findings(check, hosts)
    findings += await _look_up_addresses(check, ctx, resolver, hosts, metrics)
    if check.connect:
        findings += await _greet_hosts(check, ctx, hosts, metrics)
    details["mx"] = [mx.to_dict() for mx in hosts]
    if findings:
        return ctx.concluded(findings, metrics=metrics, details=details)
    return ctx.result(State.OK, _all_well(check, hosts, metrics), metrics=metrics, details=details)


def _without_mx(
    check: MxCheck,
    ctx: ProbeContext,
    resolver: DnsResolver,
    answer: Lookup,
    metrics: dict[str, float],
) -> CheckResult:
    """The lookup failed, the domain does not exist, or it has no MX records."""
    domain = check.domain
    if answer.failed:
        return ctx.failed(answer.failure(MxStage.MX_LOOKUP, metrics), nameservers=resolver.where)
    if answer.outcome is Outcome.NXDOMAIN:
        summary = f"{domain} does not exist (NXDOMAIN from {resolver.where}): mail to it bounces"
    else:
        summary = f"{domain} has no MX records: senders fall back to its A/AAAA record, if any"
    return ctx.result(
        State.CRITICAL, summary, stage=MxStage.MX_MISSING, metrics={**metrics, "mx_hosts": 0}
    )


def _set_findings(check: MxCheck, hosts: Sequence[MxHost]) -> list[Finding]:
    """What the MX set itself says against the config: records where a null MX was expected,
    or other hosts than ``expected_hosts``."""
    findings: list[Finding] = []
    if check.expect_null_mx:
        findings.append(
            Finding(
                State.WARNING,
                MxStage.MX_UNEXPECTED,
                f"{check.domain} has MX records ({_listing(hosts)}) but expect_null_mx = true "
                "says it should accept no mail",
            )
        )
    expected = check.expected_set
    if expected is not None:
        actual = {mx.host for mx in hosts}
        if actual != expected:
            findings.append(
                Finding(
                    State.WARNING,
                    MxStage.MX_UNEXPECTED,
                    _difference(check.domain, actual, expected),
                )
            )
    return findings


async def _look_up_addresses(
    check: MxCheck,
    ctx: ProbeContext,
    resolver: DnsResolver,
    hosts: Sequence[MxHost],
    metrics: dict[str, float],
) -> list[Finding]:
    """A and AAAA of every MX host, all at once; each host keeps what it found."""
    ctx.stage = MxStage.MX_ADDRESS
    resolved = await asyncio.gather(*(resolver.host_addresses(mx.host) for mx in hosts))
    for mx, addresses in zip(hosts, resolved, strict=True):
        mx.addresses = addresses
    metrics.update(
        mx_hosts=len(hosts), mx_hosts_with_address=sum(1 for mx in hosts if mx.has_address)
    )
    return _address_findings(check.domain, hosts)


async def _greet_hosts(
    check: MxCheck, ctx: ProbeContext, hosts: Sequence[MxHost], metrics: dict[str, float]
) -> list[Finding]:
    """Port 25 of every MX host with an address, all at once; each host keeps its greeting
    or why it has none."""
    with_address = [mx for mx in hosts if mx.has_address]
    if not with_address:
        return []  # the address findings already say why
    ctx.stage = MxStage.MX_CONNECT
    helo = check.helo_name or socket.gethostname()
    await asyncio.gather(*(_connect(mx, check, helo) for mx in with_address))
    reachable = [mx.greeting for mx in hosts if mx.greeting is not None]
    metrics.update(
        mx_hosts_reachable=len(reachable),
        mx_hosts_starttls=sum(1 for greeting in reachable if greeting.starttls),
    )
    if reachable:
        metrics["connect_s"] = round(max(greeting.elapsed_s for greeting in reachable), 3)
    return _connect_findings(check, hosts, with_address)


def _all_well(check: MxCheck, hosts: Sequence[MxHost], metrics: dict[str, float]) -> str:
    summary = f"{check.domain}: {len(hosts)} MX ({_listing(hosts)}), all with addresses"
    if check.connect:
        starttls = int(metrics["mx_hosts_starttls"])
        summary += f"; all greet on port {check.smtp_port}, STARTTLS on {starttls} of {len(hosts)}"
    return summary


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
            stage=MxStage.NULL_MX,
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
        stage=MxStage.NULL_MX,
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
        findings.append(
            Finding(State.UNKNOWN, failure.stage(MxStage.MX_ADDRESS), failure.describe())
        )
    if missing:
        absent = ", ".join(f"{found.host} {found.absence()}" for found in missing)
        if not resolved and not undetermined:
            findings.append(
                Finding(
                    State.CRITICAL,
                    MxStage.MX_ADDRESS,
                    f"no MX host of {domain} has an address ({absent}): mail to {domain} "
                    "cannot be delivered",
                )
            )
        else:
            findings.append(
                Finding(
                    State.WARNING,
                    MxStage.MX_ADDRESS,
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
                    MxStage.MX_CONNECT,
                    f"no MX host of {check.domain} greets on port {port}: {reasons}",
                )
            )
        else:
            findings.append(
                Finding(
                    State.WARNING,
                    MxStage.MX_CONNECT,
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
                    MxStage.MX_STARTTLS,
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
            mx.greeting = await greet(address, check.smtp_port, helo, check.connect_timeout_s)
            return
        except SmtpUnreachable as exc:
            mx.unreachable.append(str(exc))
