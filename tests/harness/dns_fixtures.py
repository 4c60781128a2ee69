"""pytest plugin: the session-scoped ``dns_server`` fixture (dnsmasq serving the test zones)
and ``silent_nameserver``, a UDP socket that receives queries and never answers.

Enable with ``"harness.dns_fixtures"`` in ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from .dnsmasq import HOST, DnsServer
from .fixtures import serve_for_session


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """dnsmasq on 127.0.0.1 with the zones in ``harness.dnsmasq``, for the whole session.

    Skipped when it cannot start, failed instead under CI (see ``serve_for_session``).
    """
    yield from serve_for_session(DnsServer(), "dnsmasq")


@pytest.fixture
def silent_nameserver() -> Iterator[int]:
    """The port of a real UDP socket on 127.0.0.1 that receives queries and never answers:
    a nameserver that has gone silent. (Not a mock: the resolver really sends to it.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        yield int(sock.getsockname()[1])
