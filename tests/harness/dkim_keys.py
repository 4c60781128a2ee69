"""DKIM keys for the tests' signer (OpenDKIM) and the records dnsmasq publishes for them.

Two selectors of ``example.test``, made fresh in a directory each time dnsmasq starts:

* ``mw``: publishes the public half of ``mw.private``: signatures verify.
* ``stale``: OpenDKIM signs with ``stale.private``, but the record publishes another key's
  public half -- a key rotated on the signer whose DNS record was not updated.

Keys are made with ``cryptography`` (already a dependency) in-process rather than with
``opendkim-genkey``: no subprocess, and the DNS harness needs no OpenDKIM package.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DKIM_DOMAIN = "example.test"
GOOD_SELECTOR = "mw"
STALE_SELECTOR = "stale"
_TXT_CHUNK = 200
"""A TXT string holds 255 octets at most; a 2048-bit key's record is split into several."""


@dataclass(frozen=True)
class DkimKeys:
    """Where the private keys are, and the TXT record each selector publishes."""

    directory: Path
    records: dict[str, str]
    """selector -> the TXT record's text (``v=DKIM1; k=rsa; p=...``)."""

    def private_key(self, selector: str) -> Path:
        return self.directory / f"{selector}.private"

    @staticmethod
    def record_name(selector: str) -> str:
        return f"{selector}._domainkey.{DKIM_DOMAIN}"

    def dnsmasq_lines(self) -> list[str]:
        lines = []
        for selector, text in self.records.items():
            chunks = [text[i : i + _TXT_CHUNK] for i in range(0, len(text), _TXT_CHUNK)]
            quoted = ",".join(f'"{chunk}"' for chunk in chunks)
            lines.append(f"txt-record={self.record_name(selector)},{quoted}")
        return lines


def make_keys(directory: Path) -> DkimKeys:
    """Fresh keys for both selectors in ``directory`` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    good = _new_key()
    signing_stale = _new_key()
    published_stale = _new_key()
    _write_private(directory / f"{GOOD_SELECTOR}.private", good)
    _write_private(directory / f"{STALE_SELECTOR}.private", signing_stale)
    return DkimKeys(
        directory,
        {GOOD_SELECTOR: _record(good), STALE_SELECTOR: _record(published_stale)},
    )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    tmp.replace(path)


def _record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"
