"""Signed ack links: a token naming a ticket, the route its notice went to and an expiry,
with an HMAC-SHA256 over them under ``[web] link_key``. The alerts put the link in opened and
escalation notices; the web pages check it. Pure: no clock, no config."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mailwatch.domain.errors import AckLinkExpiredError, AckLinkRefusedError

_CONTEXT = b"mailwatch ack link v1\0"
"""Domain separation: a MAC made for anything else under the same key is not a link."""
_TOKEN = re.compile(r"^([0-9]{1,12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class AckLink:
    ticket: int
    """The ticket's number."""
    route: str
    """The route the notice went to: the ack is recorded on its behalf."""
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, _CONTEXT + body.encode("ascii"), hashlib.sha256).digest())


def sign(key: bytes, link: AckLink) -> str:
    """The token for ``link`` (URL-safe: digits, letters, ``-``, ``_`` and ``.``)."""
    body = f"{link.ticket}.{int(link.expires_at.timestamp())}.{_b64(link.route.encode())}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now: datetime) -> AckLink:
    """The link ``token`` stands for; ``AckLinkRefusedError`` when it is not one ``key``
    signed, ``AckLinkExpiredError`` when it is but its time has passed."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        raise AckLinkRefusedError("not an ack link")
    body = token.rpartition(".")[0]
    if not hmac.compare_digest(_mac(key, body), found[4]):
        raise AckLinkRefusedError("the link's signature does not match")
    try:
        route = _unb64(found[3]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):  # signed, so never in practice
        raise AckLinkRefusedError("the link names no route") from None
    link = AckLink(int(found[1]), route, datetime.fromtimestamp(int(found[2]), UTC))
    if now >= link.expires_at:
        raise AckLinkExpiredError(link.ticket, link.expires_at)
    return link


def link_url(public_url: str, token: str) -> str:
    """The link as people follow it: ``https://mw.example.net/ack/TOKEN``."""
    return f"{public_url.rstrip('/')}/ack/{token}"
