"""OAuth2 access tokens for the round trip's logins, kept per grant until shortly before they
expire, so a check that runs every minute asks its token endpoint about once an hour.

One cache per process (the daemon's probes share it): checks, and the SMTP and IMAP side of
one check, that use the same grant share its token. A token the server refused is forgotten,
so the next run asks for a new one. A ``token_command``'s token has no known lifetime and is
not kept: the command runs for each login (gcloud, oauth2l and the like keep their own cache).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailwatch.config.checks.roundtrip import ImapEndpoint, RoundtripCheck, SmtpEndpoint
from mailwatch.config.oauth2 import Grant, OAuth2Config
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.oauth2 import STAGE, AccessToken, fetch_token
from mailwatch.protocols.sasl import MECHANISMS, BearerLogin

REFRESH_BEFORE_S = 60.0
"""A token this close to its expiry is not used any more: the login must not outlive it."""

_Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Kept:
    token: str
    good_until: float
    """On the cache's clock: when to fetch a new one instead."""


class TokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._kept: dict[_Key, _Kept] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}
        self.fetched = 0
        """Tokens fetched from an endpoint or a command since the start."""

    async def token(self, config: OAuth2Config, timeout_s: float) -> str:
        """A token for ``config``'s grant: the kept one while it is good, else a new one
        (``ProbeFailure`` with stage ``oauth_token`` when none can be had)."""
        key = _key(config)
        async with self._locks.setdefault(key, asyncio.Lock()):
            kept = self._kept.get(key)
            if kept is not None and self.clock() < kept.good_until:
                return kept.token
            self._kept.pop(key, None)
            fetched = await fetch_token(config, timeout_s)
            self.fetched += 1
            if config.grant is not Grant.COMMAND and fetched.expires_in_s is not None:
                self._kept[key] = _Kept(fetched.value, self._good_until(fetched))
            return fetched.value

    def forget(self, config: OAuth2Config) -> None:
        self._kept.pop(_key(config), None)

    def clear(self) -> None:
        """Forget every token (and lock: a lock belongs to the event loop it first waited in)."""
        self._kept.clear()
        self._locks.clear()

    def _good_until(self, fetched: AccessToken) -> float:
        lifetime_s = fetched.expires_in_s or 0.0
        # A short-lived token is used for its first half at most.
        return self.clock() + lifetime_s - min(REFRESH_BEFORE_S, lifetime_s / 2)


def _key(config: OAuth2Config) -> _Key:
    if config.grant is Grant.COMMAND:
        return (config.grant.value, *(config.token_command or []))
    secrets = (
        s.get_secret_value() if s is not None else ""
        for s in (config.client_secret, config.refresh_token)
    )
    return (config.grant.value, config.token_url or "", config.client_id or "",
            config.scope or "", *secrets)  # fmt: skip


TOKENS = TokenCache()
"""The process's cache."""


async def bearer_login(
    endpoint: SmtpEndpoint | ImapEndpoint, ctx: ProbeContext, tokens: TokenCache = TOKENS
) -> BearerLogin | None:
    """The OAuth2 login ``endpoint`` asks for, its token fetched (or kept) within the
    endpoint's ``command_timeout_s``; None for a password login."""
    if endpoint.auth == "password" or endpoint.oauth2 is None:
        return None
    ctx.stage = STAGE
    token = await tokens.token(endpoint.oauth2, endpoint.command_timeout_s)
    return BearerLogin(MECHANISMS[endpoint.auth], endpoint.username or "", token)


def forget_refused(check: RoundtripCheck, stage: str | None, tokens: TokenCache = TOKENS) -> None:
    """After a refused login, the token it used is not kept: the next run asks for a new one
    (the issuer may have revoked it early)."""
    endpoint: SmtpEndpoint | ImapEndpoint | None = None
    if stage == "smtp_auth":
        endpoint = check.smtp
    elif stage == "imap_auth":
        endpoint = check.imap
    if endpoint is not None and endpoint.oauth2 is not None and endpoint.auth != "password":
        tokens.forget(endpoint.oauth2)
