"""What a server certificate says and what is wrong with it: decoding and judging, no network.

``mailwatch.probes.tls`` fetches the certificate and the chain verdict; this module turns them,
with a clock and the check's limits, into findings. Tests feed it made-up certificates.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from mailwatch.config.checks.tls import TlsStage
from mailwatch.domain.results import State
from mailwatch.domain.time import SpanStyle, span

PROTOCOL_ORDER = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
"""Protocol names as ``SSLObject.version()`` reports them, oldest first."""

FINDING_ORDER = (
    TlsStage.EXPIRED,
    TlsStage.HOSTNAME,
    TlsStage.UNTRUSTED,
    TlsStage.EXPIRING,
    TlsStage.PROTOCOL_VERSION,
)
"""Stages of findings, most urgent first: between findings of equal state, the earlier one
names the result's stage and comes first in the summary."""

X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
"""OpenSSL's verify codes for a certificate outside its dates (``x509_vfy.h``)."""

SHOWN_NAMES = 4


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """The fields of a leaf certificate the check reports on."""

    subject: str
    issuer: str
    common_name: str | None
    issuer_common_name: str | None
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    sha256: str

    @classmethod
    def from_der(cls, der: bytes) -> CertificateFacts:
        """Decode a DER certificate; ``ValueError`` when it is not one."""
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns_names, ips = (), ()
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            common_name=_common_name(cert.subject),
            issuer_common_name=_common_name(cert.issuer),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            dns_names=dns_names,
            ip_addresses=ips,
            sha256=hashlib.sha256(der).hexdigest(),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The names the certificate is for: its subjectAltNames, else its common name."""
        if self.dns_names or self.ip_addresses:
            return (*self.dns_names, *self.ip_addresses)
        return (self.common_name,) if self.common_name else ()

    def to_details(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sans": [f"DNS:{n}" for n in self.dns_names] + [f"IP:{a}" for a in self.ip_addresses],
            "sha256": self.sha256,
        }


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = values[0].value if values else None
    return value if isinstance(value, str) else None


def matches_name(facts: CertificateFacts, server_name: str) -> bool:
    """Whether the certificate is valid for ``server_name`` (a host name or an IP address).

    RFC 6125 as browsers and OpenSSL apply it: DNS names compare case-insensitively, a ``*``
    may stand for the whole leftmost label only (``*.example.org`` matches ``mx.example.org``,
    not ``example.org`` or ``a.b.example.org``), addresses match IP entries only. The common
    name counts only in a certificate without subjectAltNames.
    """
    name = server_name.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None:
        return any(ipaddress.ip_address(ip) == address for ip in facts.ip_addresses)
    patterns = facts.dns_names
    if not facts.dns_names and not facts.ip_addresses and facts.common_name:
        patterns = (facts.common_name,)
    return any(_dns_match(pattern.rstrip(".").lower(), name) for pattern in patterns)


def _dns_match(pattern: str, name: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == name
    suffix = pattern[2:]
    # "*.org" would cover a whole TLD: no client accepts it, and neither do we.
    if "*" in suffix or suffix.count(".") < 1:
        return False
    first, dot, rest = name.partition(".")
    return bool(first) and bool(dot) and rest == suffix


def version_below(negotiated: str, minimum: str) -> bool:
    """True when ``negotiated`` is an older protocol than ``minimum``; unknown names are not."""
    if negotiated not in PROTOCOL_ORDER or minimum not in PROTOCOL_ORDER:
        return False
    return PROTOCOL_ORDER.index(negotiated) < PROTOCOL_ORDER.index(minimum)


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """What a verifying handshake said about the chain: trusted, or OpenSSL's reason not."""

    trusted: bool
    code: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    state: State
    stage: str
    text: str


@dataclass(frozen=True, slots=True)
class Limits:
    expiry_warning_days: float = 21.0
    expiry_critical_days: float = 7.0
    min_version: str = "TLSv1.2"


def days_left(facts: CertificateFacts, now: datetime) -> float:
    """Days until ``not_after``; negative once expired."""
    return (facts.not_after - now).total_seconds() / 86400


def judge(
    facts: CertificateFacts,
    *,
    server_name: str,
    chain: ChainVerdict,
    version: str,
    limits: Limits,
    now: datetime,
) -> list[Finding]:
    """Everything wrong with one server's certificate and session, most urgent first."""
    findings: list[Finding] = []
    left = days_left(facts, now)
    if now < facts.not_before:
        findings.append(
            Finding(
                State.CRITICAL,
                TlsStage.EXPIRED,
                f"certificate not valid before {_day(facts.not_before)} "
                f"(in {_span((facts.not_before - now).total_seconds())})",
            )
        )
    elif left <= 0:
        findings.append(
            Finding(
                State.CRITICAL,
                TlsStage.EXPIRED,
                f"certificate expired {_span(-left * 86400)} ago ({_day(facts.not_after)})",
            )
        )
    elif left <= limits.expiry_warning_days:
        state = State.CRITICAL if left <= limits.expiry_critical_days else State.WARNING
        findings.append(
            Finding(
                state,
                TlsStage.EXPIRING,
                f"certificate expires in {_span(left * 86400)} ({_day(facts.not_after)})",
            )
        )
    if not matches_name(facts, server_name):
        findings.append(
            Finding(State.CRITICAL, TlsStage.HOSTNAME, _mismatch(facts.names, server_name))
        )
    if not chain.trusted and not _explained_by_dates(chain, facts, now):
        findings.append(Finding(State.CRITICAL, TlsStage.UNTRUSTED, _untrusted(chain, facts)))
    if version_below(version, limits.min_version):
        findings.append(
            Finding(
                State.WARNING,
                TlsStage.PROTOCOL_VERSION,
                f"{version} negotiated, below the minimum {limits.min_version}",
            )
        )
    return sorted(findings, key=lambda f: (-f.state.badness, FINDING_ORDER.index(f.stage)))


def _explained_by_dates(chain: ChainVerdict, facts: CertificateFacts, now: datetime) -> bool:
    """A date error from OpenSSL that the leaf's own dates explain is already a finding.

    OpenSSL checks dates last, after it has built the chain to a trusted root, so such an
    error also means the chain itself is trusted. The same error with a leaf in date points
    at an intermediate or root, which stays an ``untrusted`` finding.
    """
    if chain.code == X509_V_ERR_CERT_HAS_EXPIRED:
        return facts.not_after <= now
    if chain.code == X509_V_ERR_CERT_NOT_YET_VALID:
        return now < facts.not_before
    return False


def _untrusted(chain: ChainVerdict, facts: CertificateFacts) -> str:
    text = f"certificate not trusted: {chain.reason or 'verification failed'}"
    if chain.code in (X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID):
        return text + " (a CA certificate in the chain)"
    issuer = facts.issuer_common_name or facts.issuer
    return text + (f" (issuer {issuer})" if issuer else "")


def _mismatch(names: Sequence[str], server_name: str) -> str:
    if not names:
        return f"certificate names no host (no subjectAltName, no common name), not {server_name}"
    return f"certificate for {_listed(names)} does not match {server_name}"


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _span(seconds: float) -> str:
    """Whole days, or hours below two days: a certificate's dates are read coarsely."""
    return span(seconds, SpanStyle.COARSE)
