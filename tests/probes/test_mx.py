"""The ``mx`` check against a real dnsmasq (``harness.dnsmasq``) and real SMTP servers
(aiosmtpd) on loopback addresses; a silent UDP socket stands in for a nameserver that never
answers."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from harness import dnsmasq as zones
from harness.certs import make_self_signed
from harness.dnsmasq import DnsServer
from mailwatch.config.checks.mx import MxCheck
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.runner import run_check


def mx_check(resolver: dict[str, Any], **fields: Any) -> MxCheck:
    """Build the check the way a config file would: through the whole config model."""
    data = {"name": "mx-test", "resolver": resolver, **fields}
    config = MailwatchConfig.model_validate({"checks": {"mx": [data]}})
    check = config.checks.mx[0]
    assert isinstance(check, MxCheck)
    return check


async def run_mx(dns_server: DnsServer, **fields: Any) -> CheckResult:
    return await run_check(mx_check(dns_server.resolver(), **fields))


# --- DNS only ----------------------------------------------------------------------------


async def test_domain_with_two_resolving_mx_hosts_is_ok(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.GOOD)

    assert result.state is State.OK
    assert result.stage is None
    assert result.summary == (
        "good.test: 2 MX (10 mx1.good.test, 20 mx2.good.test), all with addresses"
    )
    assert result.target == "good.test"
    assert result.metrics["mx_hosts"] == 2
    assert result.metrics["mx_hosts_with_address"] == 2
    assert 0 <= result.metrics["lookup_s"] < 2
    assert [mx["addresses"] for mx in result.details["mx"]] == [["127.0.0.1"], ["127.0.0.3"]]


async def test_domain_that_does_not_exist_is_critical(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.NXDOMAIN)

    assert result.state is State.CRITICAL
    assert result.stage == "mx_missing"
    assert result.summary == (
        f"nxdomain.test does not exist (NXDOMAIN from 127.0.0.1:{dns_server.port}): "
        "mail to it bounces"
    )


async def test_domain_without_mx_records_is_critical(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.NO_MX)

    assert result.state is State.CRITICAL
    assert result.stage == "mx_missing"
    assert result.summary.startswith("nomx.test has no MX records")


async def test_null_mx_is_critical_unless_expected(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.NULL_MX)

    assert result.state is State.CRITICAL
    assert result.stage == "null_mx"
    assert result.summary.startswith(
        "nullmx.test publishes a null MX (RFC 7505 '0 .'): it declares that it accepts no mail"
    )
    assert "expect_null_mx = true" in result.summary

    expected = await run_mx(dns_server, domain=zones.NULL_MX, expect_null_mx=True)
    assert expected.state is State.OK
    assert expected.summary == (
        "nullmx.test publishes a null MX (RFC 7505): it accepts no mail, as expected"
    )


async def test_null_mx_next_to_real_mx_is_critical_even_when_expected(
    dns_server: DnsServer,
) -> None:
    result = await run_mx(dns_server, domain=zones.MIXED_NULL_MX, expect_null_mx=True)

    assert result.state is State.CRITICAL
    assert result.stage == "null_mx"
    assert "alongside other MX records (10 mx.good.test)" in result.summary


async def test_real_mx_where_null_mx_expected_is_a_warning(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.GOOD, expect_null_mx=True)

    assert result.state is State.WARNING
    assert result.stage == "mx_unexpected"
    assert "good.test has MX records (10 mx1.good.test, 20 mx2.good.test)" in result.summary


async def test_expected_hosts_compare_as_a_set_ignoring_case_and_final_dot(
    dns_server: DnsServer,
) -> None:
    result = await run_mx(
        dns_server, domain=zones.GOOD, expected_hosts=["MX2.good.test.", "mx1.good.test"]
    )

    assert result.state is State.OK


async def test_a_different_mx_set_is_a_warning(dns_server: DnsServer) -> None:
    result = await run_mx(
        dns_server, domain=zones.GOOD, expected_hosts=["mx1.good.test", "mx3.good.test"]
    )

    assert result.state is State.WARNING
    assert result.stage == "mx_unexpected"
    assert result.summary == (
        "MX hosts of good.test differ from expected_hosts: "
        "unexpected mx2.good.test; missing mx3.good.test"
    )


async def test_one_mx_host_without_address_is_a_warning(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.HALF_ADDRESS)

    assert result.state is State.WARNING
    assert result.stage == "mx_address"
    assert result.summary == (
        "MX host of halfaddr.test without an address: ghost.halfaddr.test does not exist "
        "(NXDOMAIN); 1 of 2 MX hosts resolve"
    )
    assert result.metrics["mx_hosts_with_address"] == 1


async def test_no_mx_host_with_an_address_is_critical(dns_server: DnsServer) -> None:
    result = await run_mx(dns_server, domain=zones.NO_ADDRESS)

    assert result.state is State.CRITICAL
    assert result.stage == "mx_address"
    assert result.summary == (
        "no MX host of noaddr.test has an address (mx.noaddr.test has no A/AAAA record): "
        "mail to noaddr.test cannot be delivered"
    )


async def test_servfail_is_unknown_not_critical(dns_server: DnsServer) -> None:
    """The resolver is dnsmasq validating DNSSEC: the unsigned test zones come back bogus,
    so it answers SERVFAIL, as a validating resolver does when a zone's DNSSEC breaks."""
    check = mx_check(dns_server.resolver(port=dns_server.servfail_port), domain=zones.GOOD)

    result = await run_check(check)

    assert result.state is State.UNKNOWN
    assert result.stage == "dns_servfail"
    assert result.summary == (
        f"MX lookup of good.test failed: 127.0.0.1:{dns_server.servfail_port} answered SERVFAIL"
    )


async def test_silent_nameserver_is_unknown_within_the_check_timeout(
    silent_nameserver: int,
) -> None:
    """The nameserver is a real UDP socket that receives the query and never answers."""
    check = mx_check(
        {"nameservers": ["127.0.0.1"], "port": silent_nameserver, "query_timeout_s": 0.5},
        domain=zones.GOOD,
        timeout_s=5,
    )

    started = time.monotonic()
    result = await run_check(check)
    elapsed_s = time.monotonic() - started

    assert result.state is State.UNKNOWN
    assert result.stage == "dns_timeout"
    assert result.summary == (
        f"MX lookup of good.test timed out: no answer from 127.0.0.1:{silent_nameserver} "
        "within 0.5 s"
    )
    assert elapsed_s < check.timeout_s


# --- port 25 ------------------------------------------------------------------------------


class _AcceptEverything:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _free_port_on(*hosts: str) -> int:
    """A TCP port free on every one of ``hosts`` (the test MX hosts share smtp_port)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((hosts[0], 0))
            port = int(first.getsockname()[1])
            try:
                for host in hosts[1:]:
                    with socket.socket() as other:
                        other.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free on all of {hosts}")


@pytest.fixture(scope="module")
def smtp_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Real SMTP servers (aiosmtpd) on one port: 127.0.0.1 offers STARTTLS, 127.0.0.3 does
    not; nothing listens on 127.0.0.2, so MX hosts there are unreachable."""
    cert, key = make_self_signed(
        tmp_path_factory.mktemp("mx-certs"), "mx1.good.test", hostnames=["mx1.good.test"]
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    port = _free_port_on("127.0.0.1", "127.0.0.2", "127.0.0.3")
    servers = [
        Controller(_AcceptEverything(), hostname="127.0.0.1", port=port, tls_context=tls),
        Controller(_AcceptEverything(), hostname="127.0.0.3", port=port),
    ]
    for server in servers:
        server.start()
    try:
        yield port
    finally:
        for server in servers:
            server.stop()


async def test_all_mx_hosts_greet_and_starttls_is_counted(
    dns_server: DnsServer, smtp_port: int
) -> None:
    result = await run_mx(dns_server, domain=zones.GOOD, connect=True, smtp_port=smtp_port)

    assert result.state is State.OK
    assert result.summary == (
        "good.test: 2 MX (10 mx1.good.test, 20 mx2.good.test), all with addresses; "
        f"all greet on port {smtp_port}, STARTTLS on 1 of 2"
    )
    assert result.metrics["mx_hosts_reachable"] == 2
    assert result.metrics["mx_hosts_starttls"] == 1
    mx1, mx2 = result.details["mx"]
    assert (mx1["starttls"], mx2["starttls"]) == (True, False)
    assert "ESMTP" in mx1["banner"] or "SMTP" in mx1["banner"]


async def test_mx_without_starttls_is_a_warning_when_required(
    dns_server: DnsServer, smtp_port: int
) -> None:
    result = await run_mx(
        dns_server, domain=zones.GOOD, connect=True, smtp_port=smtp_port, require_starttls=True
    )

    assert result.state is State.WARNING
    assert result.stage == "mx_starttls"
    assert result.summary == (
        "mx2.good.test (MX of good.test) does not offer STARTTLS: mail to it travels unencrypted"
    )


async def test_some_mx_unreachable_is_a_warning(dns_server: DnsServer, smtp_port: int) -> None:
    result = await run_mx(dns_server, domain=zones.PARTIAL, connect=True, smtp_port=smtp_port)

    assert result.state is State.WARNING
    assert result.stage == "mx_connect"
    assert result.summary == (
        f"mx2.partial.test: connection refused by 127.0.0.2:{smtp_port}; "
        f"1 of 2 MX hosts of partial.test greet on port {smtp_port}"
    )


async def test_all_mx_unreachable_is_critical(dns_server: DnsServer, smtp_port: int) -> None:
    result = await run_mx(dns_server, domain=zones.DOWN, connect=True, smtp_port=smtp_port)

    assert result.state is State.CRITICAL
    assert result.stage == "mx_connect"
    assert result.summary == (
        f"no MX host of down.test greets on port {smtp_port}: "
        f"mx.down.test: connection refused by 127.0.0.2:{smtp_port}"
    )


async def test_mx_that_accepts_but_never_greets_is_cut_off(dns_server: DnsServer) -> None:
    """A real listening socket on 127.0.0.2 that accepts and never sends a banner."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.2", 0))
        mute.listen()
        port = int(mute.getsockname()[1])
        check = mx_check(
            dns_server.resolver(),
            domain=zones.DOWN,
            connect=True,
            smtp_port=port,
            connect_timeout_s=0.5,
            timeout_s=5,
        )
        started = time.monotonic()
        result = await run_check(check)

    assert time.monotonic() - started < check.timeout_s
    assert result.state is State.CRITICAL
    assert result.stage == "mx_connect"
    assert result.summary == (
        f"no MX host of down.test greets on port {port}: "
        f"mx.down.test: no answer from 127.0.0.2:{port} within 0.5 s during banner"
    )


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"require_starttls": True},
            "checks.mx[0]: require_starttls needs connect = true",
        ),
        (
            {"expected_hosts": []},
            "checks.mx[0]: expected_hosts must name at least one host "
            "(for a domain that accepts no mail, set expect_null_mx = true)",
        ),
        (
            {"expected_hosts": ["mx1.good.test"], "expect_null_mx": True},
            "checks.mx[0]: expected_hosts and expect_null_mx = true contradict each other",
        ),
        (
            {"timeout_s": 5, "resolver": {"query_timeout_s": 5}},
            "checks.mx[0]: resolver.query_timeout_s (5) must be less than timeout_s (5) "
            "so a slow lookup is reported as such",
        ),
        (
            {"resolver": {"nameservers": ["dns.example"]}},
            "checks.mx[0].resolver.nameservers[0]: value is not a valid IPv4 or IPv6 address",
        ),
        (
            {"domain": "bad domain.test"},
            "checks.mx[0].domain: 'bad domain.test' is not a valid domain name "
            "(bad label 'bad domain')",
        ),
        (
            {"resolver": {"port": 0}},
            "checks.mx[0].resolver.port: Input should be greater than or equal to 1",
        ),
        ({"conect": True}, "checks.mx[0].conect: unknown key"),
    ],
)
def test_invalid_config_is_rejected_with_a_readable_message(
    fields: dict[str, Any], message: str
) -> None:
    data = {"name": "mx-test", "domain": "good.test", **fields}

    with pytest.raises(ValidationError) as excinfo:
        MailwatchConfig.model_validate({"checks": {"mx": [data]}})

    assert format_validation_error(excinfo.value) == [message]


def test_defaults_are_the_documented_ones() -> None:
    check = MxCheck.model_validate({"name": "mx", "domain": "Example.ORG."})

    assert check.domain == "example.org"
    assert check.resolver.nameservers == []
    assert check.resolver.port == 53
    assert check.resolver.query_timeout_s == 5.0
    assert (check.connect, check.smtp_port, check.connect_timeout_s) == (False, 25, 10.0)
    assert (check.expected_hosts, check.expect_null_mx, check.require_starttls) == (
        None,
        False,
        False,
    )
    assert check.timeout_s == 30.0


def test_docs_mention_every_key() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "checks" / "mx.md").read_text()
    common = {
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
    own = set(MxCheck.model_fields) - common
    missing = [key for key in sorted(own) if f"`{key}`" not in doc]
    assert missing == []
