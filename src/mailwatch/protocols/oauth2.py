"""Getting an OAuth2 access token: the client-credentials and refresh-token grants at a token
endpoint, or a ``token_command``. Every failure is a ``ProbeFailure`` with stage
``oauth_token`` whose summary says what the endpoint or the command said, and never a secret.

oauthlib builds the grant requests and reads the endpoint's answers (its error classes carry
the RFC 6749 5.2 ``error`` and ``error_description``); aiohttp carries them. oauthlib and
aiohttp's errors are translated here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, WebApplicationClient

from mailwatch.config.oauth2 import Grant, OAuth2Config
from mailwatch.domain.errors import ProbeFailure
from mailwatch.protocols.streams import cannot_connect, os_error_reason
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

STAGE = "oauth_token"
MIN_MASKED = 8
MAX_RESPONSE_BYTES = 256 * 1024
"""A token response is a few kilobytes; more than this is not a token endpoint."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_in_s: float | None
    """Lifetime the issuer gave it; None when unknown (a ``token_command``'s token)."""

    def __repr__(self) -> str:
        return f"AccessToken(***, expires_in_s={self.expires_in_s})"


async def fetch_token(config: OAuth2Config, timeout_s: float) -> AccessToken:
    """A fresh access token for ``config``'s grant, within ``timeout_s``."""
    secrets = [s.get_secret_value() for s in (config.client_secret, config.refresh_token) if s]
    try:
        if config.grant is Grant.COMMAND:
            return await _run_command(config.token_command or [], timeout_s)
        return await _grant(config, timeout_s)
    except ProbeFailure as failure:
        summary = failure.summary
        for secret in secrets:
            # A secret too short to be one would mask ordinary words, not hide anything.
            if len(secret) >= MIN_MASKED:
                summary = summary.replace(secret, "***")
        raise ProbeFailure(STAGE, summary) from None


def _request_body(config: OAuth2Config) -> tuple[str, Any]:
    client_id = config.client_id or ""
    secret = config.client_secret.get_secret_value() if config.client_secret else ""
    if config.grant is Grant.REFRESH_TOKEN and config.refresh_token is not None:
        client: Any = WebApplicationClient(client_id)
        body = client.prepare_refresh_body(
            refresh_token=config.refresh_token.get_secret_value(),
            scope=config.scope,
            client_id=client_id,
            client_secret=secret,
        )
        return body, client
    client = BackendApplicationClient(client_id)
    body = client.prepare_request_body(
        scope=config.scope, include_client_id=True, client_secret=secret
    )
    return body, client


async def _grant(config: OAuth2Config, timeout_s: float) -> AccessToken:
    url = config.token_url or ""
    parts = urlsplit(url)
    host = parts.hostname or url
    where = host if parts.port is None else f"{host}:{parts.port}"
    what = f"{config.grant.value.replace('_', '-')} grant"
    body, client = _request_body(config)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            status, reason = response.status, response.reason or ""
            raw = await response.content.read(MAX_RESPONSE_BYTES)
    except TimeoutError:
        raise ProbeFailure(
            STAGE, f"token endpoint {where} did not answer within {timeout_s:g} s"
        ) from None
    except Exception as exc:
        if is_tls_error(exc):
            raise ProbeFailure(STAGE, f"token endpoint: {describe_tls_error(exc, where)}") from None
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise ProbeFailure(
                STAGE, f"token endpoint: {cannot_connect(where, exc.os_error)}"
            ) from None
        if isinstance(exc, aiohttp.ClientError | OSError):
            raise ProbeFailure(STAGE, f"token endpoint {where}: {_why(exc)}") from None
        raise
    text = raw.decode("utf-8", "replace")
    try:
        token = client.parse_request_body_response(text)
    except OAuth2Error as exc:
        said = exc.error + (f": {exc.description}" if exc.description else "")
        raise ProbeFailure(
            STAGE, f"token endpoint {where} refused the {what}: {_one_line(said)}"
        ) from None
    except (ValueError, TypeError, Warning):
        token = None
    if token is None or status >= 400:
        raise ProbeFailure(
            STAGE,
            f"token endpoint {where} answered HTTP {status} {reason} without a token"
            + (f": {_one_line(text)}" if text.strip() else ""),
        )
    expires_in = token.get("expires_in")
    return AccessToken(
        str(token["access_token"]),
        float(expires_in) if isinstance(expires_in, int | float) else None,
    )


async def _run_command(argv: list[str], timeout_s: float) -> AccessToken:
    program = argv[0]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ProbeFailure(
            STAGE, f"token_command {program} cannot run: {exc.strerror or exc}"
        ) from None
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate()
    except TimeoutError:
        raise ProbeFailure(
            STAGE, f"token_command {program} printed no token within {timeout_s:g} s"
        ) from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        said = _last_line(err.decode("utf-8", "replace"))
        raise ProbeFailure(
            STAGE,
            f"token_command {program} exited with status {process.returncode}"
            + (f": {said}" if said else ""),
        )
    lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines()]
    token = next((line for line in lines if line), "")
    if not token:
        raise ProbeFailure(STAGE, f"token_command {program} printed no token")
    return AccessToken(token, None)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return os_error_reason(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "closed the connection without an answer"
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
