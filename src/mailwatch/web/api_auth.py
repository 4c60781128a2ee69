"""Bearer tokens of the JSON API: which configured token, if any, a request carries.

Every configured token is compared, in constant time, whatever the request carries, so the
time an answer takes says nothing about how close a guess came. The token itself is never
logged, returned or put in an error; only its name is, as the actor of what it does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from mailwatch.domain.errors import SecretUnavailableError

SCHEME = "Bearer"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the API compares it: its name (the actor on the timeline) and the SHA-256
    of its value, so that tokens of any length compare in the same time."""

    name: str
    digest: bytes


def api_tokens(configured: Iterable[tuple[str, SecretStr]]) -> list[ApiToken]:
    """The tokens to accept, by name; one whose secret cannot be read (an unset variable)
    or that is empty is left out: it can let nobody in."""
    tokens = []
    for name, secret in configured:
        try:
            value = secret.get_secret_value()
        except SecretUnavailableError:
            continue
        if value:
            tokens.append(ApiToken(name, _digest(value)))
    return tokens


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header; None when there is none."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME.lower() or not token:
        return None
    return token


def token_name(presented: str, tokens: list[ApiToken]) -> str | None:
    """The name of the configured token equal to ``presented``; None when none is."""
    digest = _digest(presented)
    found = None
    for token in tokens:  # no early exit: every token costs the same comparison
        if hmac.compare_digest(digest, token.digest) and found is None:
            found = token.name
    return found


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
