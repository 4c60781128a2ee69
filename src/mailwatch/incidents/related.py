"""Which checks bear on a ticket's check: its ``depends_on`` parents, the checks that depend
on it, and the checks that look at the same host. Pure; the root-cause pack asks it twice,
when the ticket opens (to record evidence) and when it is shown (to read their results).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel as PydanticModel
from pydantic import SecretStr

from mailwatch.config.node import host_name
from mailwatch.domain.errors import SecretUnavailableError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mailwatch.config.checks import CheckBase
    from mailwatch.config.model import MailwatchConfig

LOCAL = "localhost"
"""The host name every alias of the machine mailwatch runs on is compared as."""
LOCAL_KINDS = frozenset({"queue", "resources"})
"""Kinds that look at the machine mailwatch runs on (its mail queue, its resources)."""
_LOCAL_ALIASES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})


@dataclass(frozen=True, slots=True)
class Related:
    """A check that bears on another, and how: ``depends_on`` (the other depends on it),
    ``dependent`` (it depends on the other) or ``same host NAME``."""

    check: CheckBase
    relation: str


def hosts_of(check: CheckBase) -> frozenset[str]:
    """The hosts ``check`` talks to, lower-cased, the local machine as ``localhost``: a round
    trip's SMTP and IMAP hosts, a service's or TLS check's host (a unix socket is local), the
    local machine for queue and resources checks; none for DNS-only kinds (mx, dnsbl)."""
    if check.kind in LOCAL_KINDS:
        return frozenset({LOCAL})
    found: set[str] = set()
    for part in (check, getattr(check, "smtp", None), getattr(check, "imap", None)):
        host = getattr(part, "host", None)
        if isinstance(host, str) and host:
            found.add(_normal(host))
    if getattr(check, "socket", None):
        found.add(LOCAL)
    return frozenset(found)


def related_checks(config: MailwatchConfig, name: str, limit: int) -> list[Related]:
    """The checks related to check ``name``, parents first, then dependents, then those on a
    shared host (in config order), each once, at most ``limit``."""
    check = config.check_named(name)
    if check is None:
        return []
    found: dict[str, Related] = {}
    for parent in check.depends_on:
        other = config.check_named(parent)
        if other is not None:
            found.setdefault(parent, Related(other, "depends_on"))
    for other in config.checks:
        if name in other.depends_on:
            found.setdefault(other.name, Related(other, "dependent"))
    mine = hosts_of(check)
    for other in config.checks:
        shared = sorted(mine & hosts_of(other))
        if other.name != name and shared:
            found.setdefault(other.name, Related(other, f"same host {shared[0]}"))
    return list(found.values())[:limit]


def secrets_of(checks: Iterable[BaseModel]) -> list[str]:
    """Every secret value (``SecretStr``) in these checks' configs, at any depth: what the
    evidence must never hold."""
    found: list[str] = []
    for model in checks:
        _collect(model, found, 0)
    return found


def _collect(value: object, found: list[str], depth: int) -> None:
    if depth > 6:
        return
    if isinstance(value, SecretStr):
        # A secret that cannot be read was never sent, so no reply holds it; and the ticket
        # must open all the same.
        with contextlib.suppress(SecretUnavailableError):
            found.append(value.get_secret_value())
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found, depth + 1)
    elif isinstance(value, PydanticModel):
        for field in type(value).model_fields:
            _collect(getattr(value, field, None), found, depth + 1)


def _normal(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower()
    if host in _LOCAL_ALIASES or host == host_name().lower():
        return LOCAL
    return host
