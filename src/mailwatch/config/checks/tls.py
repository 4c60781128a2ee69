"""The ``tls`` kind: which mail port to handshake with, and when a certificate is bad.

``protocol`` says how TLS starts: ``smtp-starttls`` and ``imap-starttls`` upgrade a plain
session, ``smtps`` and ``imaps`` speak TLS from the first byte. The probe is
``mailwatch.probes.tls``.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field, FilePath, model_validator

from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.dns import DomainName
from mailwatch.domain.kinds import Figure

TlsProtocol = Literal["smtp-starttls", "smtps", "imap-starttls", "imaps"]
TlsVersionName = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

DEFAULT_PORTS: dict[str, int] = {
    "smtp-starttls": 25,
    "smtps": 465,
    "imap-starttls": 143,
    "imaps": 993,
}


class TlsCheck(CheckBase):
    """A mail server's certificate and TLS session: expiry, name, chain, protocol version."""

    kind = "tls"

    timeout_s: float = Field(default=20.0, gt=0)
    protocol: TlsProtocol
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    sni: DomainName | None = None
    ca_file: FilePath | None = None
    helo: DomainName | None = None
    expiry_warning_days: float = Field(default=21.0, ge=0)
    expiry_critical_days: float = Field(default=7.0, ge=0)
    min_version: TlsVersionName = "TLSv1.2"

    @model_validator(mode="after")
    def _coherent(self) -> TlsCheck:
        if self.expiry_critical_days > self.expiry_warning_days:
            raise ValueError("expiry_critical_days must not be above expiry_warning_days")
        if self.helo is not None and self.protocol != "smtp-starttls":
            raise ValueError('helo applies to protocol "smtp-starttls" only')
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.protocol]

    @property
    def server_name(self) -> str:
        """The name sent as SNI and matched against the certificate: ``sni``, else ``host``."""
        return self.sni if self.sni is not None else self.host

    @property
    def target(self) -> str:
        where = (
            f"[{self.host}]:{self.effective_port}"
            if ":" in self.host
            else (f"{self.host}:{self.effective_port}")
        )
        return where if self.sni is None or self.sni == self.host else f"{where} ({self.sni})"


class TlsStage(enum.StrEnum):
    """``connect``, ``starttls`` (the SMTP or IMAP dialogue before the upgrade), ``handshake``
    (TLS failed even without verification, or the certificate cannot be decoded), then the
    findings, most urgent first."""

    CONNECT = "connect"
    STARTTLS = "starttls"
    HANDSHAKE = "handshake"
    EXPIRED = "expired"
    HOSTNAME = "hostname"
    UNTRUSTED = "untrusted"
    EXPIRING = "expiring"
    PROTOCOL_VERSION = "protocol_version"


KIND = CheckKind(
    name="tls",
    config=TlsCheck,
    stages=TlsStage,
    probe="mailwatch.probes.tls",
    exported=(
        Figure("handshake_s", "handshake_seconds", "Time the TLS handshake took"),
        Figure(
            "expiry_timestamp_s",
            "cert_expiry_timestamp_seconds",
            "Unix time the server's certificate expires (its notAfter)",
        ),
        Figure(
            "days_left",
            None,
            "Not exported: mailwatch_tls_cert_expiry_timestamp_seconds - time() says it in "
            "seconds, without going stale between scrapes",
        ),
    ),
)
