"""The tls check against the harness's Postfix and Dovecot, with the certificates it serves:
valid (harness CA), expired and expiring (by SNI name), from an unknown CA, on a listener
capped at TLS 1.2 and on one speaking only TLS 1.0. aiosmtpd plays an SMTP server without
STARTTLS; the judging rules are also tested as pure functions with made-up certificates."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import ValidationError

from harness.certs import make_ca, make_self_signed
from harness.mailservers import MailServers
from helpers.resolving import resolve_several
from helpers.tcp_responders import Responder, free_port, tarpit
from mailwatch.config.checks.tls import TlsCheck
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import State
from mailwatch.probes.tls.certificate import (
    X509_V_ERR_CERT_HAS_EXPIRED,
    CertificateFacts,
    ChainVerdict,
    Limits,
    judge,
    matches_name,
    version_below,
)
from mailwatch.runner import run_check, run_checks

HARNESS_NAME = "mail.example.test"


def tls_check(**data: Any) -> TlsCheck:
    entry = {"name": "tls", "host": "127.0.0.1", **data}
    check = MailwatchConfig.model_validate({"checks": {"tls": [entry]}}).checks.tls[0]
    assert isinstance(check, TlsCheck)
    return check


def not_after(path: Path) -> dt.datetime:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc


def der_of(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def whole_days_left(path: Path) -> int:
    return math.floor((not_after(path) - dt.datetime.now(dt.UTC)).total_seconds() / 86400)


# --- a valid certificate, four ways in -----------------------------------------------------------

PORTS = {
    "smtp-starttls": "smtp_port",
    "smtps": "smtps_port",
    "imap-starttls": "imap_port",
    "imaps": "imaps_port",
}


@pytest.mark.parametrize("protocol", list(PORTS))
async def test_valid_certificate_is_ok(mail_servers: MailServers, protocol: str) -> None:
    ms = mail_servers
    port = getattr(ms, PORTS[protocol])
    check = tls_check(protocol=protocol, port=port, sni=HARNESS_NAME, ca_file=str(ms.ca_file))
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.stage is None
    days = whole_days_left(ms.server_cert)
    assert result.summary == (
        f"127.0.0.1:{port} ({HARNESS_NAME}) certificate ok: expires in {days} days "
        f"({not_after(ms.server_cert).date()}), TLSv1.3 {result.details['cipher']}"
    )
    assert result.target == f"127.0.0.1:{port} ({HARNESS_NAME})"
    assert days < result.metrics["days_left"] < days + 1
    assert result.metrics["expiry_timestamp_s"] == not_after(ms.server_cert).timestamp()
    assert 0 < result.metrics["handshake_s"] < 5
    assert result.details["subject"] == "CN=server,O=mailwatch test harness"
    assert result.details["issuer"] == "CN=mailwatch-harness-ca,O=mailwatch test harness"
    assert result.details["sans"] == ["DNS:localhost", f"DNS:{HARNESS_NAME}", "IP:127.0.0.1"]
    assert result.details["protocol_version"] == "TLSv1.3"
    assert result.details["cipher"].startswith("TLS_")
    assert result.details["not_after"] == not_after(ms.server_cert).isoformat()
    assert result.details["trusted"] is True


async def test_host_name_is_the_default_sni(mail_servers: MailServers) -> None:
    check = tls_check(
        protocol="smtps",
        host="localhost",
        port=mail_servers.smtps_port,
        ca_file=str(mail_servers.ca_file),
    )
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.target == f"localhost:{mail_servers.smtps_port}"
    assert result.details["server_name"] == "localhost"


async def test_an_address_is_matched_against_ip_entries(mail_servers: MailServers) -> None:
    check = tls_check(
        protocol="imaps", port=mail_servers.imaps_port, ca_file=str(mail_servers.ca_file)
    )
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.target == f"127.0.0.1:{mail_servers.imaps_port}"


# --- certificates with something wrong -----------------------------------------------------------


@pytest.mark.parametrize("protocol", ["smtps", "imap-starttls", "imaps"])
async def test_expired_certificate_is_critical(mail_servers: MailServers, protocol: str) -> None:
    ms = mail_servers
    port = getattr(ms, PORTS[protocol])
    check = tls_check(protocol=protocol, port=port, sni=ms.expired_name, ca_file=str(ms.ca_file))
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "expired")
    expired_on = not_after(ms.expired_cert).date()
    # Expired, but otherwise fine: OpenSSL's "certificate has expired" is not a second finding.
    assert result.summary == (
        f"127.0.0.1:{port} ({ms.expired_name}) certificate expired 3 days ago ({expired_on})"
    )
    assert result.details["findings"] == ["expired"]
    assert result.details["verify_error"] == "certificate has expired"
    assert -4 < result.metrics["days_left"] < -3


async def test_expiring_certificate_is_critical_within_a_week(mail_servers: MailServers) -> None:
    ms = mail_servers
    check = tls_check(
        protocol="smtps", port=ms.smtps_port, sni=ms.expiring_name, ca_file=str(ms.ca_file)
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "expiring")
    assert result.summary == (
        f"127.0.0.1:{ms.smtps_port} ({ms.expiring_name}) certificate expires in "
        f"{whole_days_left(ms.expiring_cert)} days ({not_after(ms.expiring_cert).date()})"
    )
    assert result.details["trusted"] is True


async def test_expiring_certificate_is_a_warning_above_the_critical_days(
    mail_servers: MailServers,
) -> None:
    ms = mail_servers
    check = tls_check(
        protocol="imaps",
        port=ms.imaps_port,
        sni=ms.expiring_name,
        ca_file=str(ms.ca_file),
        expiry_critical_days=2,
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.WARNING, "expiring")


async def test_valid_certificate_within_the_warning_days(mail_servers: MailServers) -> None:
    ms = mail_servers
    check = tls_check(
        protocol="smtps",
        port=ms.smtps_port,
        sni=HARNESS_NAME,
        ca_file=str(ms.ca_file),
        expiry_warning_days=60,
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.WARNING, "expiring")
    assert "certificate expires in" in result.summary


@pytest.mark.parametrize("protocol", ["smtp-starttls", "imaps"])
async def test_wrong_host_name_is_critical(mail_servers: MailServers, protocol: str) -> None:
    ms = mail_servers
    port = getattr(ms, PORTS[protocol])
    check = tls_check(protocol=protocol, port=port, sni="mx.example.test", ca_file=str(ms.ca_file))
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "hostname")
    assert result.summary == (
        f"127.0.0.1:{port} (mx.example.test) certificate for "
        f"localhost, {HARNESS_NAME}, 127.0.0.1 does not match mx.example.test"
    )
    assert result.details["trusted"] is True


@pytest.mark.parametrize("port_name", ["smtps_unknown_ca_port", "imaps_unknown_ca_port"])
async def test_unknown_ca_is_critical(mail_servers: MailServers, port_name: str) -> None:
    ms = mail_servers
    port = getattr(ms, port_name)
    protocol = "smtps" if port_name.startswith("smtps") else "imaps"
    check = tls_check(protocol=protocol, port=port, sni=HARNESS_NAME, ca_file=str(ms.ca_file))
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "untrusted")
    assert result.summary == (
        f"127.0.0.1:{port} ({HARNESS_NAME}) certificate not trusted: "
        "unable to get local issuer certificate (issuer mailwatch-unknown-ca)"
    )
    assert result.details["issuer"] == "CN=mailwatch-unknown-ca,O=mailwatch test harness"


async def test_system_store_does_not_trust_the_harness_ca(mail_servers: MailServers) -> None:
    check = tls_check(protocol="smtps", port=mail_servers.smtps_port, sni=HARNESS_NAME)
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "untrusted")


async def test_every_finding_is_reported(mail_servers: MailServers) -> None:
    """Wrong name and unknown CA on one TLS 1.2 session: the handshake that would refuse the
    certificate at its first problem does not hide the others."""
    ms = mail_servers
    check = tls_check(
        protocol="smtps",
        port=ms.smtps_unknown_ca_port,
        sni="mx.example.test",
        ca_file=str(ms.ca_file),
        min_version="TLSv1.3",
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "hostname")
    assert result.details["findings"] == ["hostname", "untrusted"]
    assert "does not match mx.example.test; certificate not trusted:" in result.summary


# --- protocol versions ---------------------------------------------------------------------------


async def test_tls12_server_is_a_warning_when_tls13_is_required(mail_servers: MailServers) -> None:
    ms = mail_servers
    check = tls_check(
        protocol="smtps",
        port=ms.smtps_tls12_port,
        sni=HARNESS_NAME,
        ca_file=str(ms.ca_file),
        min_version="TLSv1.3",
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.WARNING, "protocol_version")
    assert result.summary == (
        f"127.0.0.1:{ms.smtps_tls12_port} ({HARNESS_NAME}) "
        "TLSv1.2 negotiated, below the minimum TLSv1.3"
    )
    ok = await run_check(check.model_copy(update={"min_version": "TLSv1.2"}))
    assert ok.state is State.OK, ok.summary


async def test_tls10_server_is_a_warning_by_default(mail_servers: MailServers) -> None:
    """The observing handshake goes down to TLS 1.0 (security level 0) to see what an outdated
    server offers; its chain is still verified, with the same lenience."""
    ms = mail_servers
    check = tls_check(
        protocol="smtps", port=ms.smtps_tls10_port, sni=HARNESS_NAME, ca_file=str(ms.ca_file)
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.WARNING, "protocol_version")
    assert result.summary.endswith("TLSv1 negotiated, below the minimum TLSv1.2")
    assert result.details["protocol_version"] == "TLSv1"
    assert result.details["trusted"] is True


# --- sessions that fail before a certificate is seen ---------------------------------------------


async def test_closed_port_is_critical_connect() -> None:
    port = free_port()
    result = await run_check(tls_check(protocol="smtps", port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == f"connection refused by 127.0.0.1:{port}"


async def test_imap_server_without_tls_refuses_starttls(mail_servers: MailServers) -> None:
    port = mail_servers.imap_noidle_port
    result = await run_check(tls_check(protocol="imap-starttls", port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "starttls")
    assert result.summary == (
        f'127.0.0.1:{port} refused STARTTLS: "a1 BAD TLS support isn\'t enabled."'
    )


async def test_smtp_server_without_starttls() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(object(), hostname="mx.mailwatch.test", loop=loop), "127.0.0.1", 0
    )
    try:
        port = server.sockets[0].getsockname()[1]
        result = await run_check(tls_check(protocol="smtp-starttls", port=port, helo="mon.test"))
    finally:
        server.close()
        await server.wait_closed()
    assert (result.state, result.stage) == (State.CRITICAL, "starttls")
    assert result.summary == f"127.0.0.1:{port} does not offer STARTTLS"


async def test_plain_port_in_implicit_tls_mode_fails_the_handshake(
    mail_servers: MailServers,
) -> None:
    port = mail_servers.smtp_port
    result = await run_check(tls_check(protocol="smtps", port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "handshake")
    assert result.summary.startswith(f"TLS handshake with 127.0.0.1:{port} failed: ")


async def test_a_tarpit_is_cut_off_during_starttls() -> None:
    async with Responder(tarpit()) as r:
        started = time.monotonic()
        result = await run_check(tls_check(protocol="smtp-starttls", port=r.port, timeout_s=1))
        elapsed = time.monotonic() - started
    assert (result.state, result.stage) == (State.CRITICAL, "starttls")
    assert result.summary == f"no answer from 127.0.0.1:{r.port} within 1 s during starttls"
    assert elapsed < 1.5


async def test_a_tarpit_does_not_delay_another_tls_check(mail_servers: MailServers) -> None:
    ms = mail_servers
    async with Responder(tarpit()) as r:
        slow = tls_check(name="tarpit", protocol="smtps", port=r.port, timeout_s=2)
        fast = tls_check(name="fast", protocol="imaps", port=ms.imaps_port, ca_file=str(ms.ca_file))
        slow_result, fast_result = await run_checks([slow, fast])
    assert slow_result.stage == "handshake"
    assert fast_result.state is State.OK, fast_result.summary
    assert fast_result.duration_s < 1.5


# --- judging, as pure functions ------------------------------------------------------------------

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def facts(**changes: Any) -> CertificateFacts:
    base = CertificateFacts(
        subject="CN=mx.example.org",
        issuer="CN=Example CA",
        common_name="mx.example.org",
        issuer_common_name="Example CA",
        not_before=NOW - dt.timedelta(days=60),
        not_after=NOW + dt.timedelta(days=30),
        dns_names=("mx.example.org",),
        ip_addresses=(),
        sha256="00",
    )
    return dataclasses.replace(base, **changes)


def verdict(cert: CertificateFacts, chain: ChainVerdict | None = None, **limits: Any) -> list[str]:
    found = judge(
        cert,
        server_name="mx.example.org",
        chain=chain or ChainVerdict(trusted=True),
        version=limits.pop("version", "TLSv1.3"),
        limits=Limits(**limits),
        now=NOW,
    )
    return [f"{f.state.label} {f.stage}: {f.text}" for f in found]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        (
            {"not_after": NOW + dt.timedelta(days=21)},
            ["warning expiring: certificate expires in 21 days (2026-06-22)"],
        ),
        (
            {"not_after": NOW + dt.timedelta(days=7, hours=1)},
            ["warning expiring: certificate expires in 7 days (2026-06-08)"],
        ),
        (
            {"not_after": NOW + dt.timedelta(days=7)},
            ["critical expiring: certificate expires in 7 days (2026-06-08)"],
        ),
        (
            {"not_after": NOW + dt.timedelta(hours=30)},
            ["critical expiring: certificate expires in 30 h (2026-06-02)"],
        ),
        (
            {"not_after": NOW + dt.timedelta(minutes=10)},
            ["critical expiring: certificate expires in less than an hour (2026-06-01)"],
        ),
        (
            {"not_after": NOW},
            ["critical expired: certificate expired less than an hour ago (2026-06-01)"],
        ),
        (
            {"not_after": NOW - dt.timedelta(days=3, hours=5)},
            ["critical expired: certificate expired 3 days ago (2026-05-29)"],
        ),
        (
            {"not_before": NOW + dt.timedelta(days=2)},
            ["critical expired: certificate not valid before 2026-06-03 (in 2 days)"],
        ),
    ],
)
def test_dates(changes: dict[str, Any], expected: list[str]) -> None:
    assert verdict(facts(**changes)) == expected


def test_a_ca_certificate_out_of_date_is_untrusted() -> None:
    """OpenSSL's "certificate has expired" with a leaf in date means an expired CA."""
    chain = ChainVerdict(False, X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired")
    assert verdict(facts(), chain) == [
        "critical untrusted: certificate not trusted: certificate has expired "
        "(a CA certificate in the chain)"
    ]


def test_findings_are_ordered_by_state_then_urgency() -> None:
    cert = facts(
        not_after=NOW + dt.timedelta(days=10), dns_names=("a.example.org", "b.example.org")
    )
    chain = ChainVerdict(False, 18, "self-signed certificate")
    assert verdict(cert, chain, version="TLSv1.1") == [
        "critical hostname: certificate for a.example.org, b.example.org "
        "does not match mx.example.org",
        "critical untrusted: certificate not trusted: self-signed certificate (issuer Example CA)",
        "warning expiring: certificate expires in 10 days (2026-06-11)",
        "warning protocol_version: TLSv1.1 negotiated, below the minimum TLSv1.2",
    ]


def test_long_name_lists_are_cut() -> None:
    cert = facts(dns_names=tuple(f"h{i}.example.net" for i in range(7)))
    assert verdict(cert) == [
        "critical hostname: certificate for h0.example.net, h1.example.net, h2.example.net, "
        "h3.example.net and 3 more does not match mx.example.org"
    ]


@pytest.mark.parametrize(
    ("dns_names", "ips", "common_name", "name", "matches"),
    [
        (("mx.example.org",), (), None, "MX.Example.Org.", True),
        (("*.example.org",), (), None, "mx.example.org", True),
        (("*.example.org",), (), None, "example.org", False),
        (("*.example.org",), (), None, "a.mx.example.org", False),
        (("*.org",), (), None, "example.org", False),
        (("m*.example.org",), (), None, "mx.example.org", False),
        (("mx.example.org",), ("192.0.2.25",), None, "192.0.2.25", True),
        (("192.0.2.25",), (), None, "192.0.2.25", False),  # an address needs an IP entry
        ((), ("2001:db8::25",), None, "2001:DB8:0::25", True),
        ((), (), "mx.example.org", "mx.example.org", True),  # no SANs: the CN counts
        (("other.example.org",), (), "mx.example.org", "mx.example.org", False),
        ((), (), None, "mx.example.org", False),
    ],
)
def test_name_matching(
    dns_names: tuple[str, ...],
    ips: tuple[str, ...],
    common_name: str | None,
    name: str,
    matches: bool,
) -> None:
    cert = facts(dns_names=dns_names, ip_addresses=ips, common_name=common_name)
    assert matches_name(cert, name) is matches


@pytest.mark.parametrize(
    ("negotiated", "minimum", "below"),
    [
        ("TLSv1", "TLSv1.2", True),
        ("TLSv1.1", "TLSv1.2", True),
        ("TLSv1.2", "TLSv1.2", False),
        ("TLSv1.3", "TLSv1.2", False),
        ("TLSv1.2", "TLSv1.3", True),
        ("SSLv3", "TLSv1", True),
        ("TLSv1.4", "TLSv1.3", False),  # unknown to us: not judged
    ],
)
def test_version_below(negotiated: str, minimum: str, below: bool) -> None:
    assert version_below(negotiated, minimum) is below


def test_facts_from_a_certificate_without_sans(tmp_path: Path) -> None:
    cert_path, _ = make_self_signed(tmp_path, "plain.example.org")
    got = CertificateFacts.from_der(der_of(cert_path))
    assert got.dns_names == () and got.ip_addresses == ()
    assert got.names == ("plain.example.org",)
    assert matches_name(got, "plain.example.org")
    assert got.to_details()["sans"] == []


def test_facts_reject_garbage() -> None:
    with pytest.raises(ValueError):
        CertificateFacts.from_der(b"not a certificate")


def test_facts_from_an_issued_certificate(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "Facts CA")
    cert_path, _ = ca.issue(tmp_path, "leaf", hostnames=["a.example.org"], ips=["192.0.2.1"])
    got = CertificateFacts.from_der(der_of(cert_path))
    assert got.issuer_common_name == "Facts CA"
    assert got.names == ("a.example.org", "192.0.2.1")
    assert got.not_after == not_after(cert_path)


# --- config --------------------------------------------------------------------------------------


def _problems(entry: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        MailwatchConfig.model_validate({"checks": {"tls": [{"name": "tls", **entry}]}})
    return format_validation_error(raised.value)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"host": "mx"}, "checks.tls[0].protocol: required key is missing"),
        (
            {"protocol": "pop3s", "host": "mx"},
            "checks.tls[0].protocol: Input should be 'smtp-starttls', 'smtps', 'imap-starttls' "
            "or 'imaps'",
        ),
        ({"protocol": "smtps"}, "checks.tls[0].host: required key is missing"),
        (
            {"protocol": "smtps", "host": "mx", "min_version": "TLSv1.4"},
            "checks.tls[0].min_version: Input should be 'TLSv1', 'TLSv1.1', 'TLSv1.2' or 'TLSv1.3'",
        ),
        (
            {"protocol": "smtps", "host": "mx", "expiry_warning_days": 5},
            "checks.tls[0]: expiry_critical_days must not be above expiry_warning_days",
        ),
        (
            {"protocol": "imaps", "host": "mx", "helo": "mon.example.org"},
            'checks.tls[0]: helo applies to protocol "smtp-starttls" only',
        ),
        (
            {"protocol": "smtps", "host": "mx", "sni": "bad name"},
            "checks.tls[0].sni: 'bad name' is not a valid domain name (bad label 'bad name')",
        ),
        (
            {"protocol": "smtps", "host": "mx", "ca_file": "/nonexistent/ca.pem"},
            "checks.tls[0].ca_file: Path does not point to a file",
        ),
        (
            {"protocol": "smtps", "host": "mx", "tls": "starttls"},
            "checks.tls[0].tls: unknown key",
        ),
    ],
)
def test_invalid_tls_config(entry: dict[str, Any], problem: str) -> None:
    assert _problems(entry) == [problem]


@pytest.mark.parametrize(
    ("entry", "target"),
    [
        ({"protocol": "smtp-starttls", "host": "mx.example.org"}, "mx.example.org:25"),
        ({"protocol": "smtps", "host": "mx.example.org"}, "mx.example.org:465"),
        ({"protocol": "imap-starttls", "host": "mx.example.org"}, "mx.example.org:143"),
        ({"protocol": "imaps", "host": "mx.example.org"}, "mx.example.org:993"),
        ({"protocol": "smtp-starttls", "host": "mx", "port": 587}, "mx:587"),
        (
            {"protocol": "smtps", "host": "192.0.2.1", "sni": "MX.Example.ORG."},
            "192.0.2.1:465 (mx.example.org)",
        ),
        ({"protocol": "smtps", "host": "2001:db8::1"}, "[2001:db8::1]:465"),
    ],
)
def test_tls_defaults(entry: dict[str, Any], target: str) -> None:
    check = tls_check(**entry)
    assert check.target == target
    assert (check.expiry_warning_days, check.expiry_critical_days) == (21, 7)
    assert (check.min_version, check.timeout_s) == ("TLSv1.2", 20)


async def test_a_name_whose_every_address_refuses_is_connection_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = resolve_several(monkeypatch)
    port = free_port()
    result = await run_check(tls_check(protocol="smtps", host=host, port=port))
    assert (result.state, result.stage) == (State.CRITICAL, "connect")
    assert result.summary == f"connection refused by {host}:{port}"
