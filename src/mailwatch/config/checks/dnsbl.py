"""The ``dnsbl`` kind: which addresses and domains to look up on which blocklists, and which
blocklist answers mean "your query was refused" rather than "listed". The probe is
``mailwatch.probes.dnsbl``."""

from __future__ import annotations

import enum
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, IPvAnyAddress, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.dns import DomainName, ResolverConfig
from mailwatch.domain.kinds import CRITICAL_ONLY, Figure, KeyFigure, SeverityRule
from mailwatch.domain.results import State

ZoneType = Literal["ip", "domain"]
"""``ip``: queried with reversed IPv4 octets or IPv6 nibbles; ``domain``: with the domain."""

# 127.0.0.1 is how SURBL/URIBL-style lists say "blocked"; 127.255.255.0/24 is Spamhaus's
# error range (252 bad DQS key, 254 public/open resolver, 255 too many queries). No list uses
# either for a real listing, so treating them as "refused" everywhere is safe.
DEFAULT_REFUSED_CODES: tuple[str, ...] = ("127.0.0.1/32", "127.255.255.0/24")


def _network_as_text(value: object) -> object:
    # ipaddress reads a bare number as an address (IPv4Network(True) is 0.0.0.1/32), with a
    # DeprecationWarning for a bool: in a config it is a mistake, not a network.
    if isinstance(value, int):
        raise ValueError('a network must be a string such as "127.0.0.1/32"')
    return value


RefusedCode = Annotated[IPv4Network, BeforeValidator(_network_as_text)]


class DnsblZone(StrictModel):
    """One blocklist."""

    zone: DomainName
    type: ZoneType = "ip"
    refused_codes: list[RefusedCode] = Field(
        default_factory=lambda: [IPv4Network(code) for code in DEFAULT_REFUSED_CODES]
    )


DEFAULT_ZONES: tuple[DnsblZone, ...] = (
    DnsblZone(zone="zen.spamhaus.org"),
    DnsblZone(zone="bl.spamcop.net"),
    DnsblZone(zone="b.barracudacentral.org"),
    # 127.0.1.255: the DBL was queried with an IP address.
    DnsblZone.model_validate(
        {
            "zone": "dbl.spamhaus.org",
            "type": "domain",
            "refused_codes": [*DEFAULT_REFUSED_CODES, "127.0.1.255/32"],
        }
    ),
)
"""Used unless ``use_default_zones = false``; docs/checks/dnsbl.md says why each is here."""


class DnsblCheck(CheckBase):
    """Are our sending addresses, our MX hosts or our domains on a blocklist?"""

    kind = "dnsbl"

    ips: list[IPvAnyAddress] = Field(default_factory=list)
    mx_domains: list[DomainName] = Field(default_factory=list)
    domains: list[DomainName] = Field(default_factory=list)
    use_default_zones: bool = True
    zones: list[DnsblZone] = Field(default_factory=list)
    disabled_zones: list[DomainName] = Field(default_factory=list)
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)

    @model_validator(mode="after")
    def _coherent(self) -> DnsblCheck:
        if not (self.ips or self.mx_domains or self.domains):
            raise ValueError("nothing to look up: set ips, mx_domains or domains")
        self._check_zone_names()
        self._check_zone_types()
        if self.resolver.query_timeout_s >= self.timeout_s:
            raise ValueError(
                f"resolver.query_timeout_s ({self.resolver.query_timeout_s:g}) must be less "
                f"than timeout_s ({self.timeout_s:g}) so a slow blocklist is reported as such"
            )
        return self

    def _check_zone_names(self) -> None:
        """Own zones listed once; disabled zones among the zones there are."""
        own = [zone.zone for zone in self.zones]
        repeated = sorted({name for name in own if own.count(name) > 1})
        if repeated:
            raise ValueError(f"zones lists {', '.join(repeated)} more than once")
        known = {zone.zone for zone in self._all_zones()}
        unknown = [name for name in self.disabled_zones if name not in known]
        if unknown:
            raise ValueError(
                f"disabled_zones names {', '.join(unknown)}, which is not among the zones "
                f"({', '.join(sorted(known)) or 'none'})"
            )

    def _check_zone_types(self) -> None:
        """Every kind of thing to look up has an enabled zone of its type."""
        active = self.active_zones
        if (self.ips or self.mx_domains) and not any(z.type == "ip" for z in active):
            raise ValueError("ips or mx_domains are set but no zone of type ip is enabled")
        if self.domains and not any(z.type == "domain" for z in active):
            raise ValueError("domains are set but no zone of type domain is enabled")

    def _all_zones(self) -> list[DnsblZone]:
        # A zone of your own with a default's name replaces the default (e.g. other codes).
        own = {zone.zone for zone in self.zones}
        defaults = [z for z in DEFAULT_ZONES if z.zone not in own] if self.use_default_zones else []
        return [*defaults, *self.zones]

    @property
    def active_zones(self) -> list[DnsblZone]:
        """The zones this check queries, defaults first, in a stable order."""
        disabled = set(self.disabled_zones)
        return [zone for zone in self._all_zones() if zone.zone not in disabled]

    @property
    def target(self) -> str:
        parts = [str(ip) for ip in self.ips]
        parts += [f"MX of {domain}" for domain in self.mx_domains]
        parts += self.domains
        return ", ".join(parts)


class DnsblStage(enum.StrEnum):
    """Where a dnsbl check failed; the ``dns_*`` stages are set by ``mailwatch.dns``."""

    MX_LOOKUP = "mx_lookup"
    MX_ADDRESS = "mx_address"
    DNSBL_LOOKUP = "dnsbl_lookup"
    DNSBL_LISTED = "dnsbl_listed"
    DNSBL_REFUSED = "dnsbl_refused"
    DNS_CONFIG = "dns_config"
    DNS_TIMEOUT = "dns_timeout"
    DNS_SERVFAIL = "dns_servfail"
    DNS_REFUSED = "dns_refused"
    DNS_UNREACHABLE = "dns_unreachable"


KIND = CheckKind(
    name="dnsbl",
    config=DnsblCheck,
    stages=DnsblStage,
    probe="mailwatch.probes.dnsbl",
    severity=(
        SeverityRule((DnsblStage.DNSBL_LISTED,), CRITICAL_ONLY, 1, "domain or IP blocklisted"),
    ),
    figures=(KeyFigure("lookup_s", "lookup time", "s"),),
    timeout_state=State.UNKNOWN,
    exported=(
        Figure("lookup_s", "lookup_seconds", "Time all blocklist lookups of a run took"),
        Figure("queries", "queries", "Blocklist lookups in the last run"),
        Figure("listings", "listings", "Addresses and domains listed, one per zone listing them"),
        Figure("listed_zones", "listed_zones", "Blocklist zones that list at least one subject"),
        Figure("failed_queries", "failed_queries", "Lookups that got no usable answer"),
    ),
)
