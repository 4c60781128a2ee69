"""The ``dnsbl`` check: are our addresses, our MX hosts or our domains on a DNS blocklist?

A blocklist answers a listed name with an A record in 127.0.0.0/8 and says why in TXT. Some
answers are not listings: a list's "refused" codes (Spamhaus 127.255.255.x when queried through
a public resolver) and anything outside 127/8 (a resolver that rewrites NXDOMAIN). Those make
the result unknown, never critical. DNS errors are translated in :mod:`mailwatch.dns`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address
from typing import Any, Literal

from mailwatch.config.checks.dnsbl import DnsblCheck, DnsblStage, DnsblZone
from mailwatch.dns import DnsResolver, Lookup, Outcome
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import Finding, ProbeContext
from mailwatch.domain.results import CheckResult, State

_LOOPBACK = IPv4Network("127.0.0.0/8")
_PARALLEL_QUERIES = 16
"""Blocklists rate-limit; a handful of targets on a handful of lists needs no more."""
_REASON_CHARS = 200
_TROUBLE = ("refused", "hijacked", "failed")


@dataclass(frozen=True, slots=True)
class Subject:
    """Something looked up on the lists: an address or a domain, and what it is to us."""

    type: Literal["ip", "domain"]
    value: str
    note: str = ""

    @property
    def label(self) -> str:
        """``192.0.2.7 (mx1.example.org, MX of example.org)`` or ``example.org``."""
        return f"{self.value} ({self.note})" if self.note else self.value

    def query_name(self, zone: str) -> str:
        prefix = reverse_labels(self.value) if self.type == "ip" else self.value
        return f"{prefix}.{zone}"


def reverse_labels(address: str) -> str:
    """``192.0.2.7`` -> ``7.2.0.192``; IPv6 in nibbles; an IPv4-mapped IPv6 as its IPv4."""
    ip = ip_address(address)
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, IPv4Address):
        return ".".join(reversed(str(ip).split(".")))
    return ".".join(reversed(ip.exploded.replace(":", "")))


@dataclass(frozen=True, slots=True)
class ZoneAnswer:
    """What one list said about one subject."""

    subject: Subject
    zone: DnsblZone
    verdict: Literal["clear", "listed", "refused", "hijacked", "failed"]
    lookup: Lookup
    codes: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "subject": self.subject.value,
            "zone": self.zone.zone,
            "verdict": self.verdict,
        }
        if self.codes:
            data["codes"] = list(self.codes)
        if self.reason:
            data["reason"] = self.reason
        if self.verdict == "failed":
            data["problem"] = self.lookup.describe()
        return data


async def probe(check: DnsblCheck, ctx: ProbeContext) -> CheckResult:
    ctx.stage = DnsblStage.DNSBL_LOOKUP
    try:
        resolver = await DnsResolver.from_config(check.resolver)
    except ProbeFailure as failure:
        return ctx.failed(failure)
    findings: list[Finding] = []
    subjects = [Subject("ip", str(ip)) for ip in check.ips]
    if check.mx_domains:
        ctx.stage = DnsblStage.MX_LOOKUP
        for found, problems in await asyncio.gather(
            *(_mx_subjects(resolver, domain) for domain in check.mx_domains)
        ):
            subjects += found
            findings += problems
    subjects = _unique(subjects)
    subjects += [Subject("domain", domain) for domain in check.domains]

    ctx.stage = DnsblStage.DNSBL_LOOKUP
    zones = check.active_zones
    started = time.monotonic()
    limit = asyncio.Semaphore(_PARALLEL_QUERIES)
    answers = await asyncio.gather(
        *(
            _ask(resolver, limit, subject, zone)
            for subject in subjects
            for zone in zones
            if zone.type == subject.type
        )
    )
    lookup_s = time.monotonic() - started
    findings += _answer_findings(answers, resolver.where)

    listed = [answer for answer in answers if answer.verdict == "listed"]
    metrics = {
        "lookup_s": round(lookup_s, 3),
        "queries": len(answers),
        "listings": len(listed),
        "listed_zones": len({answer.zone.zone for answer in listed}),
        "failed_queries": sum(1 for answer in answers if answer.verdict in _TROUBLE),
    }
    details = {
        "nameservers": resolver.where,
        "subjects": [subject.label for subject in subjects],
        "zones": [zone.zone for zone in zones],
        "answers": [answer.to_dict() for answer in answers if answer.verdict != "clear"],
    }
    if findings:
        return ctx.concluded(findings, metrics=metrics, details=details)
    names = (
        ", ".join(subject.value for subject in subjects)
        if len(subjects) <= 3
        else f"{len(subjects)} addresses and domains"
    )
    return ctx.result(
        State.OK,
        f"{names}: not listed on {', '.join(sorted({a.zone.zone for a in answers}))}",
        metrics=metrics,
        details=details,
    )


async def _mx_subjects(resolver: DnsResolver, domain: str) -> tuple[list[Subject], list[Finding]]:
    """The addresses of ``domain``'s MX hosts; when there are none, why not, as unknown."""
    answer = await resolver.lookup(domain, "MX")
    if answer.failed:
        return [], [Finding(State.UNKNOWN, answer.stage(DnsblStage.MX_LOOKUP), answer.describe())]
    hosts = [host for _, host in answer.mx() if host != "."]
    if not hosts:
        why = {
            Outcome.NXDOMAIN: "does not exist (NXDOMAIN)",
            Outcome.NODATA: "has no MX records",
        }.get(answer.outcome, "publishes a null MX")
        message = f"cannot check the MX hosts of {domain} against blocklists: {domain} {why}"
        return [], [Finding(State.UNKNOWN, DnsblStage.MX_LOOKUP, message)]
    found = await asyncio.gather(*(resolver.host_addresses(host) for host in hosts))
    subjects = [
        Subject("ip", str(ip_address(address)), f"{host.host}, MX of {domain}")
        for host in found
        for address in host.addresses
    ]
    if subjects:
        return subjects, []
    failures = [failure for host in found for failure in host.failures]
    if failures:
        return [], [
            Finding(State.UNKNOWN, failures[0].stage(DnsblStage.MX_ADDRESS), failures[0].describe())
        ]
    message = f"cannot check the MX hosts of {domain} against blocklists: none has an address"
    return [], [Finding(State.UNKNOWN, DnsblStage.MX_ADDRESS, message)]


async def _ask(
    resolver: DnsResolver, limit: asyncio.Semaphore, subject: Subject, zone: DnsblZone
) -> ZoneAnswer:
    name = subject.query_name(zone.zone)
    async with limit:
        answer = await resolver.lookup(name, "A")
    if answer.failed:
        return ZoneAnswer(subject, zone, "failed", answer)
    codes = tuple(answer.addresses())
    if not codes:
        return ZoneAnswer(subject, zone, "clear", answer)
    outside = [code for code in codes if IPv4Address(code) not in _LOOPBACK]
    if outside:
        return ZoneAnswer(subject, zone, "hijacked", answer, tuple(outside))
    listing = tuple(
        code for code in codes if not any(IPv4Address(code) in net for net in zone.refused_codes)
    )
    async with limit:
        reason = (await resolver.lookup(name, "TXT")).text()[:_REASON_CHARS]
    if listing:
        return ZoneAnswer(subject, zone, "listed", answer, listing, reason)
    return ZoneAnswer(subject, zone, "refused", answer, codes, reason)


def _answer_findings(answers: Sequence[ZoneAnswer], where: str) -> list[Finding]:
    """Listings one by one, first; then trouble, once per cause however many queries it hit."""
    findings = [
        Finding(
            State.CRITICAL,
            DnsblStage.DNSBL_LISTED,
            f"{answer.subject.label} is listed on {answer.zone.zone}: "
            f"{', '.join(answer.codes)}{_quoted(answer.reason)}",
        )
        for answer in answers
        if answer.verdict == "listed"
    ]
    refused: dict[str, list[ZoneAnswer]] = {}
    hijacked: list[ZoneAnswer] = []
    failed: dict[tuple[Outcome, str], list[ZoneAnswer]] = {}
    for answer in answers:
        if answer.verdict == "refused":
            refused.setdefault(answer.zone.zone, []).append(answer)
        elif answer.verdict == "hijacked":
            hijacked.append(answer)
        elif answer.verdict == "failed":
            failed.setdefault((answer.lookup.outcome, answer.lookup.problem), []).append(answer)
    if refused:
        parts = []
        for zone, group in refused.items():
            count = "the query" if len(group) == 1 else f"{len(group)} queries"
            parts.append(f"{zone} refused {count}: {', '.join(group[0].codes)}")
            parts[-1] += _quoted(group[0].reason)
        message = (
            f"{'; '.join(parts)} (lists refuse public and shared resolvers: query them through "
            "a resolver of your own, resolver.nameservers, or turn the list off in "
            "disabled_zones)"
        )
        findings.append(Finding(State.UNKNOWN, DnsblStage.DNSBL_REFUSED, message))
    if hijacked:
        first = hijacked[0]
        message = (
            f"{where} answered {first.lookup.name} with {', '.join(first.codes)}"
            f"{_more(hijacked)}, outside 127.0.0.0/8: the resolver rewrites answers, so no "
            "blocklist result through it can be trusted"
        )
        findings.append(Finding(State.UNKNOWN, DnsblStage.DNSBL_REFUSED, message))
    for group in failed.values():
        zones = ", ".join(dict.fromkeys(answer.zone.zone for answer in group))
        lookup = group[0].lookup
        message = f"{zones} could not be checked: {lookup.describe()}{_more(group)}"
        findings.append(Finding(State.UNKNOWN, lookup.stage(DnsblStage.DNSBL_LOOKUP), message))
    return findings


def _quoted(reason: str) -> str:
    return f" '{reason}'" if reason else ""


def _more(group: Sequence[ZoneAnswer]) -> str:
    extra = len(group) - 1
    return "" if not extra else f" (and {extra} more {'query' if extra == 1 else 'queries'})"


def _unique(subjects: Sequence[Subject]) -> list[Subject]:
    """One subject per address; an explicit address keeps its plain label."""
    seen: dict[tuple[str, str], Subject] = {}
    for subject in subjects:
        seen.setdefault((subject.type, subject.value), subject)
    return list(seen.values())
