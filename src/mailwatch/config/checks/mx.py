"""The ``mx`` kind: one domain's MX records, their addresses, and optionally whether each MX
host answers on port 25. The probe is ``mailwatch.probes.mx``."""

from __future__ import annotations

import enum

from pydantic import Field, model_validator

from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.dns import DomainName, ResolverConfig
from mailwatch.domain.kinds import CRITICAL_ONLY, Figure, KeyFigure, SeverityRule
from mailwatch.domain.results import State


class MxCheck(CheckBase):
    """Can the world find, and reach, the mail servers of ``domain``?"""

    kind = "mx"

    domain: DomainName
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)
    expected_hosts: list[DomainName] | None = None
    expect_null_mx: bool = False
    connect: bool = False
    smtp_port: int = Field(default=25, ge=1, le=65535)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    helo_name: DomainName | None = None
    require_starttls: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> MxCheck:
        if self.expected_hosts is not None and not self.expected_hosts:
            raise ValueError(
                "expected_hosts must name at least one host "
                "(for a domain that accepts no mail, set expect_null_mx = true)"
            )
        if self.expected_hosts and self.expect_null_mx:
            raise ValueError("expected_hosts and expect_null_mx = true contradict each other")
        if self.require_starttls and not self.connect:
            raise ValueError("require_starttls needs connect = true")
        if self.resolver.query_timeout_s >= self.timeout_s:
            raise ValueError(
                f"resolver.query_timeout_s ({self.resolver.query_timeout_s:g}) must be less "
                f"than timeout_s ({self.timeout_s:g}) so a slow lookup is reported as such"
            )
        if self.connect and self.connect_timeout_s >= self.timeout_s:
            raise ValueError(
                f"connect_timeout_s ({self.connect_timeout_s:g}) must be less than "
                f"timeout_s ({self.timeout_s:g}) so an unreachable MX is reported as such"
            )
        return self

    @property
    def expected_set(self) -> frozenset[str] | None:
        return frozenset(self.expected_hosts) if self.expected_hosts else None

    @property
    def target(self) -> str:
        return self.domain


class MxStage(enum.StrEnum):
    """Where an mx check failed; the ``dns_*`` stages are set by ``mailwatch.dns``."""

    MX_LOOKUP = "mx_lookup"
    MX_MISSING = "mx_missing"
    NULL_MX = "null_mx"
    MX_UNEXPECTED = "mx_unexpected"
    MX_ADDRESS = "mx_address"
    MX_CONNECT = "mx_connect"
    MX_STARTTLS = "mx_starttls"
    DNS_CONFIG = "dns_config"
    DNS_TIMEOUT = "dns_timeout"
    DNS_SERVFAIL = "dns_servfail"
    DNS_REFUSED = "dns_refused"
    DNS_UNREACHABLE = "dns_unreachable"


KIND = CheckKind(
    name="mx",
    config=MxCheck,
    stages=MxStage,
    probe="mailwatch.probes.mx",
    severity=(
        SeverityRule((MxStage.MX_CONNECT,), CRITICAL_ONLY, 1, "no MX host reachable"),
        SeverityRule(
            (MxStage.MX_MISSING, MxStage.NULL_MX, MxStage.MX_ADDRESS),
            CRITICAL_ONLY,
            1,
            "no MX host can receive mail",
        ),
    ),
    figures=(
        KeyFigure("connect_s", "connect time", "s"),
        KeyFigure("lookup_s", "lookup time", "s"),
    ),
    timeout_state=State.UNKNOWN,
    exported=(
        Figure("lookup_s", "lookup_seconds", "Time the MX lookup took"),
        Figure("connect_s", "connect_seconds", "Slowest SMTP greeting among the MX hosts"),
        Figure("mx_hosts", "hosts", "MX hosts the domain names"),
        Figure("mx_hosts_with_address", "hosts_with_address", "MX hosts with an A or AAAA record"),
        Figure("mx_hosts_reachable", "hosts_reachable", "MX hosts that greeted on port 25"),
        Figure("mx_hosts_starttls", "hosts_starttls", "MX hosts that offered STARTTLS"),
    ),
)
