"""Test certificate authorities and leaf certificates, made with ``cryptography``.

Everything is written as PEM files so that Postfix, Dovecot and Python's ``ssl``
module can all read it. Keys are EC P-256: generating them takes a millisecond,
so certificates are simply made fresh on every harness start.

The API covers the cases the TLS checks need::

    ca = make_ca(d, "Harness CA")
    ca.issue(d, "valid", hostnames=["localhost"], ips=["127.0.0.1"])
    ca.issue(d, "expiring", ..., not_after=now() + timedelta(days=3))
    ca.issue(d, "expired", ..., not_before=..., not_after=now() - timedelta(days=1))
    ca.issue(d, "wrong-host", hostnames=["elsewhere.invalid"])
    make_ca(d, "Unknown CA").issue(d, "unknown", ...)   # not in the trust store
    make_self_signed(d, "self", hostnames=["localhost"])
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CA", "make_ca", "make_self_signed", "now"]

# Backdating absorbs small clock differences between this process and the servers.
_BACKDATE = dt.timedelta(hours=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailwatch test harness"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _stem(directory: Path, name: str) -> tuple[Path, Path]:
    # File names avoid spaces and commas: Postfix splits its file lists on them.
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    return directory / f"{safe}.crt", directory / f"{safe}.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start: servers refuse or warn on readable keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _leaf_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    hostnames: Iterable[str],
    ips: Iterable[str],
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
) -> x509.CertificateBuilder:
    start = not_before or now() - _BACKDATE
    end = not_after or now() + dt.timedelta(days=30)
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder


@dataclass(frozen=True)
class CA:
    """A certificate authority whose certificate and key live in PEM files."""

    name: str
    cert_path: Path
    key_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def issue(
        self,
        directory: str | os.PathLike[str],
        name: str,
        hostnames: Iterable[str] = (),
        ips: Iterable[str] = (),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> tuple[Path, Path]:
        """Issue a server certificate; return ``(cert_path, key_path)``.

        The cert file holds only the leaf: like a real server, it does not send
        the root, so a client without this CA fails with "unable to get local
        issuer certificate". Defaults: valid from an hour ago for 30
        days. ``not_after`` in the past gives an expired certificate.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key = _new_key()
        cert = (
            _leaf_builder(
                _name(name),
                self.cert.subject,
                key.public_key(),
                hostnames,
                ips,
                not_before,
                not_after,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = _stem(directory, name)
        _write_cert(cert_path, cert)
        _write_key(key_path, key)
        return cert_path, key_path


def make_ca(
    directory: str | os.PathLike[str],
    name: str,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> CA:
    """Create a self-signed CA; files are ``<directory>/<name>.crt`` and ``.key``.

    ``name`` is the common name; in file names, unsafe characters become ``-``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    subject = _name(name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now() - _BACKDATE)
        .not_valid_after(not_after or now() + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = _stem(directory, name)
    _write_cert(cert_path, cert)
    _write_key(key_path, key)
    return CA(name=name, cert_path=cert_path, key_path=key_path, cert=cert, key=key)


def make_self_signed(
    directory: str | os.PathLike[str],
    name: str,
    hostnames: Iterable[str] = (),
    ips: Iterable[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> tuple[Path, Path]:
    """A leaf certificate signed by its own key (no CA); ``(cert_path, key_path)``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    subject = _name(name)
    cert = _leaf_builder(
        subject, subject, key.public_key(), hostnames, ips, not_before, not_after
    ).sign(key, hashes.SHA256())
    cert_path, key_path = _stem(directory, name)
    _write_cert(cert_path, cert)
    _write_key(key_path, key)
    return cert_path, key_path
