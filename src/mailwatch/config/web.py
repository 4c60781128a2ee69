"""The optional ``[web]`` section: the daemon's web pages, their users and the ack links in alerts.

Off by default: without ``listen`` the daemon opens no port (docs/web.md).
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator, model_validator

from mailwatch.config.base import Secret, StrictModel
from mailwatch.config.metrics import parse_listen
from mailwatch.config.secrets import SecretReference

UserName = str
TokenName = str
UNNAMED_TOKEN = "api"
"""Who a token of a plain ``api_tokens`` list acts as on the timeline."""
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ARGON2_PREFIX = "$argon2"


class WebUserConfig(StrictModel):
    """``[web.users.NAME]``: one person who may log in to the web pages."""

    password_hash: Secret
    """An argon2 hash (``mailwatch web hash-password`` prints one), or a reference to one
    (``file:/etc/mailwatch/alice.hash``); never the password itself."""

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: Secret) -> Secret:
        if isinstance(value, SecretReference):  # read later, checked at login
            return value
        if not value.get_secret_value().startswith(ARGON2_PREFIX):
            raise ValueError(
                "password_hash must be an argon2 hash ($argon2id$...): run "
                "`mailwatch web hash-password` and paste what it prints"
            )
        return value


class WebConfig(StrictModel):
    """``listen = "127.0.0.1:8087"`` serves the web pages; unset, no port is opened."""

    listen: str | None = None
    """``HOST:PORT`` (same forms as ``[metrics] listen``). Put it behind a reverse proxy that
    terminates TLS (docs/web.md), or keep it on loopback."""
    public_url: str | None = None
    """Where people reach the pages, e.g. ``https://mailwatch.example.net``: the base of the
    ack links in opened and escalation notices. Unset: notices carry no ack link."""
    public_status: bool = False
    """``true`` shows the read-only overview to anyone who can reach the port, without login."""
    cookie_secure: bool = True
    """Session cookies carry ``Secure`` (sent over HTTPS only). Behind a TLS reverse proxy the
    daemon sees plain HTTP and this stays true; set false only to test on plain-HTTP loopback."""
    session_idle_s: float = Field(default=8 * 3600.0, gt=0)
    """A session unused this long is logged out. Sessions live in the daemon's memory: a
    restart logs everyone out."""
    session_max_s: float = Field(default=7 * 86400.0, gt=0)
    """A session older than this is logged out, used or not."""
    login_attempts: int = Field(default=5, ge=1)
    """Failed logins allowed per user and per client address within ``login_window_s``; more
    are answered 429 with Retry-After until the window has passed. Wrong API bearer tokens
    are counted the same way per client address, apart from logins."""
    login_window_s: float = Field(default=900.0, gt=0)
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks of reverse proxies (``["127.0.0.1", "::1"]``) whose
    ``X-Forwarded-For`` names the client; the login limit per address then counts the client,
    not the proxy. Unset: the peer's own address."""
    users: dict[UserName, WebUserConfig] = Field(default_factory=dict)
    """``[web.users.NAME]``: who may log in."""
    api_tokens: dict[TokenName, Secret] = Field(default_factory=dict)
    """Bearer tokens for programs using the JSON API (``env:NAME``, ``file:/path``, ...):
    a table ``[web.api_tokens]`` of ``NAME = "env:..."``, whose NAME the timeline records as
    who acted, or a list of tokens, which act as ``api`` (the second as ``api-2``, ...)."""
    link_key: Secret | None = None
    """The key that signs ack links (HMAC-SHA256), at least 32 characters, e.g.
    ``file:/etc/mailwatch/link.key`` holding ``openssl rand -base64 48``. Required with
    ``public_url``. Changing it invalidates every link already sent."""
    ack_link_valid_s: float = Field(default=86400.0, gt=0)
    """An ack link works this long after its notice was rendered."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                f"public_url must be an http(s) URL without query, e.g. "
                f"https://mailwatch.example.net; got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("users")
    @classmethod
    def _user_names(cls, value: dict[str, WebUserConfig]) -> dict[str, WebUserConfig]:
        bad = sorted(name for name in value if not _USER_NAME.fullmatch(name))
        if bad:
            raise ValueError(
                f"user names are letters, digits, '.', '_', '@' and '-' (up to 64): "
                f"{', '.join(bad)}"
            )
        return value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _token_table(cls, value: object) -> object:
        if isinstance(value, list):  # unnamed tokens: api, api-2, api-3, ...
            return {
                UNNAMED_TOKEN if n == 1 else f"{UNNAMED_TOKEN}-{n}": token
                for n, token in enumerate(value, start=1)
            }
        if not isinstance(value, dict):
            raise ValueError(
                'must be a table [web.api_tokens] of NAME = "env:..." or a list of tokens'
            )
        bad = sorted(str(name) for name in value if not _USER_NAME.fullmatch(str(name)))
        if bad:
            raise ValueError(
                f"token names are letters, digits, '.', '_', '@' and '-' (up to 64): "
                f"{', '.join(bad)}"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies entries are addresses or networks; got {item!r}"
                ) from None
        return value

    @model_validator(mode="after")
    def _link_key(self) -> WebConfig:
        if self.public_url is not None and self.link_key is None:
            raise ValueError("public_url needs link_key, the key that signs ack links")
        key = self.link_key
        readable = key is not None and not isinstance(key, SecretReference)
        if key is not None and readable and len(key.get_secret_value()) < 32:
            raise ValueError("link_key must be at least 32 characters")
        return self

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on; the host is "" for every interface."""
        return None if self.listen is None else parse_listen(self.listen)
