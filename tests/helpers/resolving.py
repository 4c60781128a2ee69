"""A host name that resolves to several loopback addresses, for tests of what a client says
when every address refuses (asyncio's "Multiple exceptions: ..." error).

This machine's resolver has no such name (``localhost`` is 127.0.0.1 only here, where a
typical host also has ``::1``), so ``socket.getaddrinfo`` answers this one name itself; every
other name resolves as usual, and the connections to the addresses are real.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

SEVERAL = "several.mailwatch.test"
ADDRESSES = ("127.0.0.1", "127.0.0.2")


def resolve_several(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make ``SEVERAL`` resolve to ``ADDRESSES``; the name to connect to."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != SEVERAL:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))
            for address in ADDRESSES
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SEVERAL
