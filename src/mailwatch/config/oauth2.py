"""How a roundtrip endpoint gets an OAuth2 access token: the ``oauth2`` table of
``[checks.roundtrip.smtp]`` and ``[checks.roundtrip.imap]``, and which grant it describes.

One of three: a client-credentials grant (``token_url``, ``client_id``, ``client_secret``,
``scope``: Microsoft 365's app-only access), a refresh-token grant (the same with
``refresh_token``: Gmail), or ``token_command``, a program that prints a token. The token is
fetched by ``mailwatch.protocols.oauth2``; nothing here touches the network.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import model_validator

from mailwatch.config.base import Secret, StrictModel

LoginMechanism = Literal["password", "xoauth2", "oauthbearer"]
"""``password``: IMAP LOGIN, SMTP AUTH PLAIN/LOGIN; the others are SASL with an OAuth2 token."""


class Grant(enum.StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    REFRESH_TOKEN = "refresh_token"
    COMMAND = "token_command"


_GRANT_KEYS = ("token_url", "client_id", "client_secret", "scope", "refresh_token")


class OAuth2Config(StrictModel):
    """Where the access token for an ``xoauth2``/``oauthbearer`` login comes from."""

    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    scope: str | None = None
    """Space-separated scopes; required for a client-credentials grant."""
    refresh_token: Secret | None = None
    token_command: list[str] | None = None
    """An argv (no shell) whose first line of output is the token."""

    @model_validator(mode="after")
    def _one_grant(self) -> OAuth2Config:
        if self.token_command is not None:
            given = [key for key in _GRANT_KEYS if getattr(self, key) is not None]
            if given:
                raise ValueError(
                    f"token_command stands alone: remove {', '.join(given)} "
                    "(or token_command, to let mailwatch fetch the token)"
                )
            if not self.token_command or not self.token_command[0]:
                raise ValueError("token_command must name a program: [PROGRAM, ARG, ...]")
            return self
        if self.token_url is None:
            raise ValueError(
                "token_url is missing: give token_url, client_id and client_secret (with scope "
                "or refresh_token), or token_command"
            )
        _check_token_url(self.token_url)
        for key in ("client_id", "client_secret"):
            if getattr(self, key) is None:
                raise ValueError(f"{key} is missing: the token endpoint needs it")
        if self.refresh_token is None and self.scope is None:
            raise ValueError(
                "scope is missing: a client-credentials grant needs it (or give refresh_token "
                "for a refresh-token grant)"
            )
        return self

    @property
    def grant(self) -> Grant:
        if self.token_command is not None:
            return Grant.COMMAND
        if self.refresh_token is not None:
            return Grant.REFRESH_TOKEN
        return Grant.CLIENT_CREDENTIALS


def _check_token_url(url: str) -> None:
    """https, or plain http to this machine only: the request carries the client secret."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("token_url must be an https:// URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "token_url must use https (plain http is accepted for localhost only): "
            "the request carries the client secret"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
