"""The probes' shared TLS client contexts: one per trust setting, rebuilt when the CAs change."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from harness.certs import make_ca
from mailwatch.config.checks.roundtrip import ImapEndpoint
from mailwatch.protocols.tlscontext import client_context


def endpoint(ca_file: Path | None, verify_cert: bool = True) -> ImapEndpoint:
    return ImapEndpoint(
        host="localhost", username="u", password="p", ca_file=ca_file, verify_cert=verify_cert
    )


def trusted(context: ssl.SSLContext) -> set[str]:
    """Common names of the CA certificates the context loaded."""
    return {
        value
        for cert in context.get_ca_certs()
        for rdn in cert["subject"]
        for key, value in rdn
        if key == "commonName"
    }


def test_one_context_per_trust_setting(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "first")
    shared = client_context(endpoint(ca.cert_path))
    assert client_context(endpoint(ca.cert_path)) is shared
    assert trusted(shared) == {"first"}

    unverified = client_context(endpoint(ca.cert_path, verify_cert=False))
    assert unverified is not shared
    assert unverified.verify_mode is ssl.CERT_NONE and not unverified.check_hostname
    assert shared.verify_mode is ssl.CERT_REQUIRED and shared.check_hostname

    other = make_ca(tmp_path, "second")
    assert trusted(client_context(endpoint(other.cert_path))) == {"second"}


def test_rebuilt_when_the_ca_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "trust.pem"
    shutil.copy(make_ca(tmp_path, "old").cert_path, path)
    before = client_context(endpoint(path))

    # Replaced the way package managers do it: a new file renamed over the old one.
    staged = tmp_path / "trust.pem.new"
    shutil.copy(make_ca(tmp_path, "new").cert_path, staged)
    staged.replace(path)

    after = client_context(endpoint(path))
    assert after is not before
    assert trusted(after) == {"new"}
    assert client_context(endpoint(path)) is after


def test_system_trust_follows_ssl_cert_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(make_ca(tmp_path, "bundle-a").cert_path))
    first = client_context(endpoint(None))
    assert "bundle-a" in trusted(first)
    assert client_context(endpoint(None)) is first

    monkeypatch.setenv("SSL_CERT_FILE", str(make_ca(tmp_path, "bundle-b").cert_path))
    second = client_context(endpoint(None))
    assert "bundle-b" in trusted(second) and "bundle-a" not in trusted(second)
