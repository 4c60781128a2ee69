"""The ``dnsbl`` check against a real dnsmasq (``harness.dnsmasq``) serving test blocklists;
a silent UDP socket stands in for a nameserver that never answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness import dnsmasq as zones
from harness.dnsmasq import DnsServer
from mailwatch.config.checks.dnsbl import DEFAULT_ZONES, DnsblCheck
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes.dnsbl import reverse_labels
from mailwatch.runner import run_check

TEST_ZONES = [{"zone": zones.IP_ZONE}, {"zone": zones.DOMAIN_ZONE, "type": "domain"}]
ROOT = Path(__file__).parents[2]


def dnsbl_check(resolver: dict[str, Any], **fields: Any) -> DnsblCheck:
    """Build the check the way a config file would: through the whole config model."""
    data = {
        "name": "dnsbl-test",
        "resolver": resolver,
        "use_default_zones": False,
        "zones": TEST_ZONES,
        **fields,
    }
    config = MailwatchConfig.model_validate({"checks": {"dnsbl": [data]}})
    check = config.checks.dnsbl[0]
    assert isinstance(check, DnsblCheck)
    return check


async def run_dnsbl(dns_server: DnsServer, **fields: Any) -> CheckResult:
    return await run_check(dnsbl_check(dns_server.resolver(), **fields))


async def test_clean_addresses_and_domain_are_ok(dns_server: DnsServer) -> None:
    result = await run_dnsbl(
        dns_server, ips=[zones.CLEAN_IPV4, zones.CLEAN_IPV6], domains=[zones.CLEAN_DOMAIN]
    )

    assert result.state is State.OK
    assert result.stage is None
    assert result.summary == "192.0.2.10, 2001:db8::10, good.test: not listed on bl.test, dbl.test"
    assert result.metrics["queries"] == 3
    assert result.metrics["listed_zones"] == 0


async def test_listed_ipv4_is_critical_with_the_lists_reason(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, ips=[zones.CLEAN_IPV4, zones.LISTED_IPV4])

    assert result.state is State.CRITICAL
    assert result.stage == "dnsbl_listed"
    assert result.summary == (
        "203.0.113.7 is listed on bl.test: 127.0.0.4 'Listed: https://bl.test/query/ip/203.0.113.7'"
    )
    assert result.metrics["listed_zones"] == 1
    assert result.metrics["listings"] == 1


async def test_listed_ipv6_is_looked_up_in_nibble_form(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, ips=[zones.LISTED_IPV6])

    assert result.state is State.CRITICAL
    assert result.stage == "dnsbl_listed"
    assert result.summary == (
        "2001:db8::25 is listed on bl.test: 127.0.0.3 "
        "'Listed (IPv6): https://bl.test/query/ip/2001:db8::25'"
    )


async def test_listed_domain_is_critical(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, domains=[zones.CLEAN_DOMAIN, zones.LISTED_DOMAIN])

    assert result.state is State.CRITICAL
    assert result.stage == "dnsbl_listed"
    assert result.summary == (
        "spammer.test is listed on dbl.test: 127.0.1.2 "
        "'https://dbl.test/query/dbl?domain=spammer.test'"
    )


async def test_mx_host_addresses_are_checked_and_named(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, mx_domains=[zones.LISTED_MX_DOMAIN, zones.GOOD])

    assert result.state is State.CRITICAL
    assert result.summary == (
        "203.0.113.7 (mx.listedmx.test, MX of listedmx.test) is listed on bl.test: 127.0.0.4 "
        "'Listed: https://bl.test/query/ip/203.0.113.7'"
    )
    assert result.details["subjects"] == [
        "203.0.113.7 (mx.listedmx.test, MX of listedmx.test)",
        "127.0.0.1 (mx1.good.test, MX of good.test)",
        "127.0.0.3 (mx2.good.test, MX of good.test)",
    ]


async def test_domain_without_mx_cannot_be_checked(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, mx_domains=[zones.NO_MX])

    assert result.state is State.UNKNOWN
    assert result.stage == "mx_lookup"
    assert result.summary == (
        "cannot check the MX hosts of nomx.test against blocklists: nomx.test has no MX records"
    )


async def test_refused_code_is_unknown_never_listed(dns_server: DnsServer) -> None:
    result = await run_dnsbl(dns_server, ips=[zones.REFUSED_IPV4])

    assert result.state is State.UNKNOWN
    assert result.stage == "dnsbl_refused"
    assert result.summary == (
        "bl.test refused the query: 127.255.255.254 (lists refuse public and shared resolvers: "
        "query them through a resolver of your own, resolver.nameservers, or turn the list off "
        "in disabled_zones)"
    )
    assert result.metrics["listings"] == 0


async def test_refused_codes_are_per_zone(dns_server: DnsServer) -> None:
    """With no refused codes configured, 127.255.255.254 is just another listing code."""
    zone = {"zone": zones.REFUSING_ZONE, "refused_codes": []}

    result = await run_dnsbl(dns_server, ips=[zones.CLEAN_IPV4], zones=[zone])

    assert result.state is State.CRITICAL
    assert result.summary == "192.0.2.10 is listed on refusing.test: 127.255.255.254"


async def test_whole_zone_refusing_is_reported_once(dns_server: DnsServer) -> None:
    result = await run_dnsbl(
        dns_server,
        ips=[zones.CLEAN_IPV4, zones.CLEAN_IPV6, "192.0.2.11"],
        zones=[{"zone": zones.REFUSING_ZONE}, {"zone": zones.IP_ZONE}],
    )

    assert result.state is State.UNKNOWN
    assert result.stage == "dnsbl_refused"
    assert result.summary.startswith("refusing.test refused 3 queries: 127.255.255.254 (")
    assert result.summary.count("refusing.test") == 1


async def test_answer_outside_loopback_means_a_hijacking_resolver(
    dns_server: DnsServer,
) -> None:
    result = await run_dnsbl(
        dns_server, ips=[zones.CLEAN_IPV4], zones=[{"zone": zones.HIJACK_ZONE}]
    )

    assert result.state is State.UNKNOWN
    assert result.stage == "dnsbl_refused"
    assert result.summary == (
        f"127.0.0.1:{dns_server.port} answered 10.2.0.192.hijack.test with 198.51.100.1, "
        "outside 127.0.0.0/8: the resolver rewrites answers, so no blocklist result "
        "through it can be trusted"
    )


async def test_timed_out_zone_alone_makes_the_result_unknown(dns_server: DnsServer) -> None:
    resolver = {**dns_server.resolver(), "query_timeout_s": 0.5}
    check = dnsbl_check(
        resolver,
        ips=[zones.CLEAN_IPV4],
        zones=[{"zone": zones.IP_ZONE}, {"zone": zones.TIMEOUT_ZONE}],
        timeout_s=5,
    )

    result = await run_check(check)

    assert result.state is State.UNKNOWN
    assert result.stage == "dns_timeout"
    assert result.summary == (
        "timeout.test could not be checked: A lookup of 10.2.0.192.timeout.test timed out: "
        f"no answer from 127.0.0.1:{dns_server.port} within 0.5 s"
    )


async def test_listing_is_named_first_when_another_zone_times_out(
    dns_server: DnsServer,
) -> None:
    resolver = {**dns_server.resolver(), "query_timeout_s": 0.5}
    check = dnsbl_check(
        resolver,
        ips=[zones.LISTED_IPV4],
        zones=[{"zone": zones.TIMEOUT_ZONE}, {"zone": zones.IP_ZONE}],
        timeout_s=5,
    )

    result = await run_check(check)

    assert result.state is State.CRITICAL
    assert result.stage == "dnsbl_listed"
    listing, timeout = result.summary.split("; ")
    assert listing.startswith("203.0.113.7 is listed on bl.test: 127.0.0.4")
    assert timeout.startswith("timeout.test could not be checked: A lookup of")
    assert result.metrics["failed_queries"] == 1


async def test_servfail_is_unknown(dns_server: DnsServer) -> None:
    """The resolver is dnsmasq validating DNSSEC: the unsigned test zones come back bogus,
    so it answers SERVFAIL."""
    check = dnsbl_check(dns_server.resolver(port=dns_server.servfail_port), ips=[zones.LISTED_IPV4])

    result = await run_check(check)

    assert result.state is State.UNKNOWN
    assert result.stage == "dns_servfail"
    assert result.summary == (
        "bl.test could not be checked: A lookup of 7.113.0.203.bl.test failed: "
        f"127.0.0.1:{dns_server.servfail_port} answered SERVFAIL"
    )


async def test_silent_nameserver_is_unknown_within_the_check_timeout(
    silent_nameserver: int,
) -> None:
    """The nameserver is a real UDP socket that receives the queries and never answers."""
    check = dnsbl_check(
        {"nameservers": ["127.0.0.1"], "port": silent_nameserver, "query_timeout_s": 0.5},
        ips=[zones.CLEAN_IPV4],
        domains=[zones.CLEAN_DOMAIN],
        timeout_s=5,
    )

    started = time.monotonic()
    result = await run_check(check)

    assert time.monotonic() - started < check.timeout_s
    assert result.state is State.UNKNOWN
    assert result.stage == "dns_timeout"
    assert result.summary == (
        "bl.test, dbl.test could not be checked: A lookup of 10.2.0.192.bl.test timed out: "
        f"no answer from 127.0.0.1:{silent_nameserver} within 0.5 s (and 1 more query)"
    )


async def test_default_zones_can_be_disabled_one_by_one(dns_server: DnsServer) -> None:
    defaults = [zone.zone for zone in DEFAULT_ZONES]
    check = dnsbl_check(
        dns_server.resolver(),
        ips=[zones.CLEAN_IPV4],
        use_default_zones=True,
        zones=[{"zone": zones.IP_ZONE}],
        disabled_zones=defaults,
    )

    assert [zone.zone for zone in check.active_zones] == ["bl.test"]
    result = await run_check(check)
    assert result.state is State.OK
    assert result.summary == "192.0.2.10: not listed on bl.test"


def test_default_zones_are_the_documented_ones() -> None:
    check = DnsblCheck.model_validate({"name": "bl", "ips": ["192.0.2.1"], "domains": ["a.org"]})

    assert [(zone.zone, zone.type) for zone in check.active_zones] == [
        ("zen.spamhaus.org", "ip"),
        ("bl.spamcop.net", "ip"),
        ("b.barracudacentral.org", "ip"),
        ("dbl.spamhaus.org", "domain"),
    ]
    assert [str(net) for net in check.active_zones[0].refused_codes] == [
        "127.0.0.1/32",
        "127.255.255.0/24",
    ]
    doc = (ROOT / "docs" / "checks" / "dnsbl.md").read_text()
    for zone in DEFAULT_ZONES:
        assert f"`{zone.zone}`" in doc
    keys = set(DnsblCheck.model_fields) | {"zone", "type", "refused_codes", "nameservers"}
    keys -= {
        "name",
        "enabled",
        "interval_s",
        "retry_interval_s",
        "severity",
        "depends_on",
        "plan",
        "tags",
        "runbook",
        "run_from",
        "quorum",
    }
    assert [key for key in sorted(keys) if f"`{key}`" not in doc] == []


def test_a_zone_of_your_own_replaces_the_default_of_that_name() -> None:
    check = DnsblCheck.model_validate(
        {
            "name": "bl",
            "ips": ["192.0.2.1"],
            "zones": [{"zone": "zen.spamhaus.org", "refused_codes": []}],
        }
    )

    zen = [zone for zone in check.active_zones if zone.zone == "zen.spamhaus.org"]
    assert len(zen) == 1
    assert zen[0].refused_codes == []


@pytest.mark.parametrize(
    ("address", "labels"),
    [
        ("192.0.2.7", "7.2.0.192"),
        ("2001:db8::25", "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"),
        ("::ffff:192.0.2.7", "7.2.0.192"),
    ],
)
def test_reverse_labels(address: str, labels: str) -> None:
    assert reverse_labels(address) == labels


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ips": []}, "checks.dnsbl[0]: nothing to look up: set ips, mx_domains or domains"),
        (
            {"disabled_zones": ["zen.spamhaus.com"]},
            "checks.dnsbl[0]: disabled_zones names zen.spamhaus.com, which is not among the "
            "zones (b.barracudacentral.org, bl.spamcop.net, dbl.spamhaus.org, zen.spamhaus.org)",
        ),
        (
            {"ips": [], "domains": ["a.org"], "disabled_zones": ["dbl.spamhaus.org"]},
            "checks.dnsbl[0]: domains are set but no zone of type domain is enabled",
        ),
        (
            {"zones": [{"zone": "bl.test"}, {"zone": "BL.test."}]},
            "checks.dnsbl[0]: zones lists bl.test more than once",
        ),
        (
            {"zones": [{"zone": "bl.test", "type": "url"}]},
            "checks.dnsbl[0].zones[0].type: Input should be 'ip' or 'domain'",
        ),
        (
            {"zones": [{"zone": "bl.test", "enabled": False}]},
            "checks.dnsbl[0].zones[0].enabled: unknown key",
        ),
        (
            {"ips": ["192.0.2.300"]},
            "checks.dnsbl[0].ips[0]: value is not a valid IPv4 or IPv6 address",
        ),
    ],
)
def test_invalid_config_is_rejected_with_a_readable_message(
    fields: dict[str, Any], message: str
) -> None:
    data = {"name": "dnsbl-test", "ips": ["192.0.2.1"], **fields}

    with pytest.raises(ValidationError) as excinfo:
        MailwatchConfig.model_validate({"checks": {"dnsbl": [data]}})

    assert format_validation_error(excinfo.value) == [message]


def test_mailwatch_check_cli_prints_json_and_exits_with_the_worst_state(
    dns_server: DnsServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        f"""
[[checks.mx]]
name = "mx-good"
domain = "{zones.GOOD}"
resolver = {{ nameservers = ["127.0.0.1"], port = {dns_server.port} }}

[[checks.dnsbl]]
name = "blocklists"
ips = ["{zones.LISTED_IPV4}"]
domains = ["{zones.CLEAN_DOMAIN}"]
use_default_zones = false
zones = [{{ zone = "{zones.IP_ZONE}" }}, {{ zone = "{zones.DOMAIN_ZONE}", type = "domain" }}]
resolver = {{ nameservers = ["127.0.0.1"], port = {dns_server.port} }}
"""
    )

    done = subprocess.run(
        [sys.executable, "-m", "mailwatch.cli.main", "check", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAILWATCH_CONFIG": ""},
        check=False,
    )

    assert done.returncode == 2, done.stderr
    results = {item["check"]: item for item in json.loads(done.stdout)}
    assert results["mx-good"]["state"] == "ok"
    assert results["mx-good"]["kind"] == "mx"
    assert results["mx-good"]["metrics"]["mx_hosts"] == 2
    assert results["blocklists"]["state"] == "critical"
    assert results["blocklists"]["stage"] == "dnsbl_listed"
    assert results["blocklists"]["summary"] == (
        "203.0.113.7 is listed on bl.test: 127.0.0.4 'Listed: https://bl.test/query/ip/203.0.113.7'"
    )
    assert results["blocklists"]["metrics"]["listed_zones"] == 1
