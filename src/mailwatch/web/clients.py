"""The client's address, as the login limit counts it: the peer, or behind a trusted reverse
proxy the address it names in ``X-Forwarded-For``."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: web.BaseRequest, trusted: Sequence[str]) -> str:
    """The peer's address; when the peer is a trusted proxy, the last address in
    ``X-Forwarded-For`` that is not one (a client can prepend anything, not append)."""
    peer = request.remote or "unknown"
    networks: list[Network] = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(text: str) -> bool:
        found = _address(text)
        return found is not None and any(found in net for net in networks)

    if not networks or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not is_trusted(hop):
            return hop if _address(hop) is not None else peer
    return peer
