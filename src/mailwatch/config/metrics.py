"""The optional ``[metrics]`` section: a Prometheus endpoint served by the daemon."""

from __future__ import annotations

import re

from pydantic import field_validator

from mailwatch.config.base import StrictModel

_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]*)):(?P<port>[0-9]{1,5})$")

LISTEN_FORMS = '"127.0.0.1:9187", "[::1]:9187", "localhost:9187" or ":9187" (every interface)'


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` into (host, port); the host of ``:port`` is
    empty, meaning every interface. ``ValueError`` names the forms that work."""
    found = _LISTEN.fullmatch(value)
    port = int(found["port"]) if found else 0
    if found is None or not 0 < port < 65536:
        raise ValueError(f"listen must be {LISTEN_FORMS}; got {value!r}")
    host = found["v6"] if found["v6"] is not None else found["host"]
    return host, port


class MetricsConfig(StrictModel):
    """``listen = "127.0.0.1:9187"`` serves ``/metrics``; unset, no endpoint is opened.

    ``":9187"`` listens on every interface (IPv6 and IPv4), ``"[::1]:9187"`` on one IPv6
    address."""

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on; the host is "" for every interface."""
        return None if self.listen is None else parse_listen(self.listen)
