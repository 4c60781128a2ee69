"""An OAuth2 authorization server for the tests, on loopback: a token endpoint serving the
client-credentials and refresh-token grants, and the introspection endpoint (RFC 7662) that
the harness's Dovecot oauth2 passdb asks whether a token is good and whose it is.

A fake only in that no real authorization server runs here (Entra ID and Google cannot): the
servers that judge the tokens, Dovecot and through it Postfix, are the real ones. It speaks
the wire formats of RFC 6749 (form-encoded requests, JSON answers, ``error`` and
``error_description``) and RFC 7662 (``active``), and nothing more.

``start()``/``stop()`` for ``serve_for_session``; ``reset()`` between tests. Tokens are random
and tied to a user; ``expire(token)`` makes the introspection call it inactive, as the issuer
would once its lifetime is over.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from .mailservers import DOMAIN, HOST, OAUTH2_INTROSPECTION_PORT

APP_CLIENT_ID = "mailwatch-app"
"""A confidential client allowed the client-credentials grant (Microsoft 365's app-only)."""
APP_CLIENT_SECRET = "app-client-secret-7f3a"
APP_SCOPE = "https://outlook.office365.com/.default"
WEB_CLIENT_ID = "mailwatch-web"
"""A client whose users gave it a refresh token (Gmail's OAuth client)."""
WEB_CLIENT_SECRET = "web-client-secret-91c2"
REFRESH_TOKEN = "refresh-token-for-canary-5d0e"
USER = f"canary@{DOMAIN}"


@dataclass
class _Issued:
    username: str
    active: bool = True


@dataclass
class AuthorizationState:
    """What the server knows and what it was asked; the tests read and change it."""

    lifetime_s: int = 3600
    tokens: dict[str, _Issued] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)
    """The grant_type of each token request, in order."""
    introspections: int = 0
    failure: tuple[int, dict[str, str]] | None = None
    """When set, every token request is answered with this status and JSON body."""


class OAuth2Server:
    port = OAUTH2_INTROSPECTION_PORT

    def __init__(self) -> None:
        self.state = AuthorizationState()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def token_url(self) -> str:
        return f"http://{HOST}:{self.port}/token"

    def start(self) -> OAuth2Server:
        server = ThreadingHTTPServer((HOST, self.port), _Handler)
        server.daemon_threads = True
        server.oauth2 = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="oauth2-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def reset(self) -> None:
        with self._lock:
            self.state = AuthorizationState()

    def issued(self) -> list[str]:
        with self._lock:
            return list(self.state.tokens)

    def expire(self, token: str) -> None:
        with self._lock:
            self.state.tokens[token].active = False

    def fail_token_requests(self, status: int, error: str, description: str) -> None:
        with self._lock:
            self.state.failure = (status, {"error": error, "error_description": description})

    # --- what the handler asks

    def token_request(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        with self._lock:
            state = self.state
            grant = form.get("grant_type", "")
            state.grants.append(grant)
            if state.failure is not None:
                return state.failure
            client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
            if grant == "client_credentials":
                if (client_id, client_secret) != (APP_CLIENT_ID, APP_CLIENT_SECRET):
                    return 401, _error("invalid_client", "client authentication failed")
                if form.get("scope") != APP_SCOPE:
                    return 400, _error("invalid_scope", f"scope {form.get('scope')!r} not allowed")
            elif grant == "refresh_token":
                if (client_id, client_secret) != (WEB_CLIENT_ID, WEB_CLIENT_SECRET):
                    return 401, _error("invalid_client", "client authentication failed")
                if form.get("refresh_token") != REFRESH_TOKEN:
                    return 400, _error("invalid_grant", "Token has been expired or revoked.")
            else:
                return 400, _error("unsupported_grant_type", f"grant_type {grant!r}")
            token = secrets.token_urlsafe(24)
            state.tokens[token] = _Issued(USER)
            return 200, {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": state.lifetime_s,
            }

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            self.state.introspections += 1
            issued = self.state.tokens.get(token)
            if issued is None or not issued.active:
                return {"active": False}
            return {"active": True, "username": issued.username}


def _error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows failures, not access logs

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
        oauth2: OAuth2Server = self.server.oauth2  # type: ignore[attr-defined]
        if self.path == "/token":
            status, body = oauth2.token_request(form, _basic(self.headers.get("Authorization")))
        elif self.path == "/introspect":
            status, body = 200, oauth2.introspect(form.get("token", ""))
        else:
            status, body = 404, {"error": "not_found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote(user), unquote(password)
