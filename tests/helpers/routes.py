"""Following a route's fallbacks, as the sender does one failure at a time, all at once."""

from __future__ import annotations

from collections.abc import Mapping

from mailwatch.alerts.routes import Route


def fallback_chain(routes: Mapping[str, Route], name: str) -> list[Route]:
    """``name``'s route, then its fallback, then that one's, ... (the config forbids cycles)."""
    chain = [routes[name]]
    following = chain[-1].fallback
    while following is not None and len(chain) <= len(routes):
        chain.append(routes[following])
        following = chain[-1].fallback
    return chain
