"""Whether apprise can use each route's URLs: asked by ``mailwatch validate`` and at daemon
start and reload, never at config load, so loading a config does not load apprise's plugins.

The problems name the key (``routes.team.urls[0]: ...``) like the loader's, and never the URL,
which usually carries a token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mailwatch.alerts.apprise_setup import load_apprise, quiet_apprise
from mailwatch.config import MailwatchConfig
from mailwatch.config.loader import dotted
from mailwatch.config.routes import RouteConfig
from mailwatch.domain.errors import ConfigError, SecretUnavailableError

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")


def check_route_urls(path: Path, config: MailwatchConfig) -> None:
    """Raise ``ConfigError`` (one problem per URL) if apprise cannot use a route's URL."""
    problems = route_url_problems(config.routes)
    if problems:
        raise ConfigError(path, problems)


def route_url_problems(routes: Mapping[str, RouteConfig]) -> list[str]:
    """One line per URL apprise cannot use, in config order; apprise is loaded only if a route
    has URLs. A URL whose secret cannot be read here is left out: whoever reads it says why
    (``mailwatch validate`` warns, ``--secrets`` and the daemon refuse)."""
    problems = []
    for name, route in routes.items():
        for index, url in enumerate(route.urls):
            try:
                value = url.get_secret_value()
            except SecretUnavailableError:
                continue
            problem = url_problem(value)
            if problem is not None:
                problems.append(f"{dotted(('routes', name, 'urls', index))}: {problem}")
    return problems


def url_problem(url: str) -> str | None:
    """Why apprise cannot turn ``url`` into a service, or None if it can."""
    scheme, sep, _ = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return (
            "not an apprise URL: expected SCHEME://..., e.g. ntfys://ntfy.example.org/topic "
            "or mailtos://user:password@smtp.example.org"
        )
    apprise = load_apprise()
    with quiet_apprise():
        service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if service is None:
        return (
            f"apprise cannot use this {scheme}:// URL: the scheme is unknown, or a part the "
            "service needs is missing or malformed (see the apprise wiki for its URL format)"
        )
    return None
