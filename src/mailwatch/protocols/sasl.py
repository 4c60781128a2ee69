"""SASL with an OAuth2 bearer token, as SMTP AUTH and IMAP AUTHENTICATE carry it: the client's
first message for XOAUTH2 (Google's and Microsoft's) and OAUTHBEARER (RFC 7628), and the
server's error challenge read back as words.

A server that refuses the token does not answer with the final failure at once: it sends a
challenge (base64 JSON such as ``{"status":"invalid_token","schemes":"bearer"}``), the
client answers it with an empty line (XOAUTH2) or ``%x01`` (OAUTHBEARER, RFC 7628 3.2.3) and
only then gets the failure. :data:`ERROR_REPLY` is that answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

MECHANISMS = {"xoauth2": "XOAUTH2", "oauthbearer": "OAUTHBEARER"}
"""The config's ``auth`` value and the SASL mechanism name it stands for."""

ERROR_REPLY = {"XOAUTH2": "", "OAUTHBEARER": base64.b64encode(b"\x01").decode("ascii")}
"""What the client sends back to an error challenge, base64 as sent, per mechanism."""


@dataclass(frozen=True, slots=True)
class BearerLogin:
    """A login with an OAuth2 access token. ``token`` is a secret: never shown."""

    mechanism: str
    """``XOAUTH2`` or ``OAUTHBEARER``."""
    username: str
    token: str

    def __repr__(self) -> str:
        return f"BearerLogin({self.mechanism}, {self.username!r}, token=***)"

    def initial_response(self, host: str, port: int) -> str:
        """The client's first message, base64 encoded as SMTP and IMAP carry it."""
        if self.mechanism == "OAUTHBEARER":
            # RFC 7628 3.1: a GS2 header naming the user, then key=value pairs each ended by
            # %x01, and one more %x01.
            raw = (
                f"n,a={_gs2_name(self.username)},\x01host={host}\x01port={port}\x01"
                f"auth=Bearer {self.token}\x01\x01"
            )
        else:
            raw = f"user={self.username}\x01auth=Bearer {self.token}\x01\x01"
        return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def _gs2_name(name: str) -> str:
    # RFC 5801 4: "," and "=" in the authzid are written =2C and =3D.
    return name.replace("=", "=3D").replace(",", "=2C")


def error_challenge(challenge: str) -> str:
    """The server's error challenge (base64 JSON) in words: ``status invalid_token, scope
    https://mail.google.com/``; the text as sent when it is not base64 JSON."""
    text = challenge.strip()
    if not text:
        return ""
    try:
        decoded = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return " ".join(text.split())[:200]
    if not isinstance(decoded, dict):
        return " ".join(str(decoded).split())[:200]
    parts = [f"{key} {value}" for key, value in decoded.items() if key != "schemes"]
    return ", ".join(parts)[:200]
